"""The state store on a real PostgreSQL server, started by the test itself: same schema, same behaviour."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.storage import ConversationTurn, StateStore
from briefings.models import Citation


def _server_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a Unix socket in a temp directory, stopped after the module."""
    pytest.importorskip("psycopg")
    initdb, pg_ctl = _server_binary("initdb"), _server_binary("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    base = Path(tempfile.mkdtemp(prefix="briefbot-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as the postgres user
        if (
            shutil.which("runuser") is None
            or subprocess.run(["id", "postgres"], capture_output=True, check=False).returncode
        ):
            pytest.skip("running as root without a postgres user to run the server")
        shutil.chown(base, user="postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = base / "data", _free_port()
    subprocess.run(
        [*prefix, initdb, "-D", str(data), "-U", "briefbot", "--auth=trust"], check=True, capture_output=True
    )
    options = f"-p {port} -k {base} -c listen_addresses=''"
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


def test_migrations_threads_and_turns_on_postgres(postgres_url: str) -> None:
    """Migrations apply on PostgreSQL, twice without harm, and threads keep their turns across store instances."""
    store = StateStore(postgres_url)
    thread = store.resolve_thread(None)
    citation = Citation("doc", "Title", None, "A quote.")
    store.add_turn(thread, ConversationTurn("Q1?", "A1.", True, ("term",), (citation,)))
    store.add_turn(thread, ConversationTurn("Q2?", "A2.", False, (), ()))
    store.link_thread(thread, "slack:C1:1.2")
    store.close()

    again = StateStore(postgres_url)  # a restart: migrate() finds the schema current
    assert again.resolve_thread("slack:C1:1.2") == thread
    history = again.history(thread)
    assert [t.question for t in history] == ["Q1?", "Q2?"]
    assert history[0].citations == (citation,) and history[0].focus == ("term",)
    assert again.claim_event("slack:Ev1") is True
    assert again.claim_event("slack:Ev1") is False
    again.close()
