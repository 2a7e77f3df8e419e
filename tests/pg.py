"""A throwaway PostgreSQL server (initdb + pg_ctl on a Unix socket in a temp folder), for tests and benchmarks."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class PostgresUnavailableError(RuntimeError):
    """No server binaries, or running as root without a postgres user."""


SYSTEM_PATHS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def _server_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _system_binary(name: str) -> str | None:
    """A system tool even when the caller's PATH leaves out the sbin folders (runuser lives in /usr/sbin)."""
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(SYSTEM_PATHS))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def postgres_server(listen: str | None = None, clients: str | None = None) -> Iterator[str]:
    """Start a server, yield its SQLAlchemy URL (over its Unix socket), stop and delete it afterwards. `listen`
    adds a TCP address (reached as postgresql+psycopg://briefbot@ADDRESS:PORT/postgres), for the network
    `clients` (CIDR) it trusts: benchmarks that cut a client off the network."""
    initdb, pg_ctl = _server_binary("initdb"), _server_binary("pg_ctl")
    if not initdb or not pg_ctl:
        raise PostgresUnavailableError("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    base = Path(tempfile.mkdtemp(prefix="briefbot-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as the postgres user
        runuser = _system_binary("runuser")
        if runuser is None:
            raise PostgresUnavailableError("running as root, and runuser (to start the server as postgres) is missing")
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailableError("running as root without a postgres user to run the server") from None
        shutil.chown(base, user="postgres")
        prefix = [runuser, "-u", "postgres", "--"]
    data, port = base / "data", _free_port()
    subprocess.run(
        [*prefix, initdb, "-D", str(data), "-U", "briefbot", "--auth=trust"], check=True, capture_output=True
    )
    if clients:
        with (data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {clients} trust\n")
    options = f"-p {port} -k {base} -c listen_addresses='{listen or ''}'"
    subprocess.run(
        [*prefix, pg_ctl, "-D", str(data), "-o", options, "-l", str(base / "server.log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://briefbot@/postgres?host={base}&port={port}"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)
