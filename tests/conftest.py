"""Shared fixtures: the real default corpus, a fresh data directory per test, a real SQLite state store."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.core import BriefingBot
from bot.storage import StateStore
from briefings.engine import BriefingEngine

from .discord_fixtures import DiscordFake
from .slack_mock import MockSlack

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def _built_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default corpus indexed once per session; tests get a copy so none sees another's state."""
    data = tmp_path_factory.mktemp("index")
    BriefingEngine(DEFAULT_CORPUS, data).close()
    return data


@pytest.fixture
def data_dir(tmp_path: Path, _built_index: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(_built_index, target)
    return target


@pytest.fixture
def engine(data_dir: Path) -> Iterator[BriefingEngine]:
    eng = BriefingEngine(DEFAULT_CORPUS, data_dir)
    yield eng
    eng.close()


@pytest.fixture
def store(data_dir: Path) -> Iterator[StateStore]:
    st = StateStore(f"sqlite:///{data_dir / 'state.sqlite3'}")
    yield st
    st.close()


@pytest.fixture
def bot(engine: BriefingEngine, store: StateStore) -> BriefingBot:
    """The core bot over the committed corpus: what every adapter test drives."""
    return BriefingBot(engine, store)


# Platform stand-ins shared by the adapter tests (a module may override them with its own).
@pytest.fixture
async def slack() -> AsyncIterator[MockSlack]:
    mock = MockSlack()
    await mock.start()
    yield mock
    await mock.close()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> DiscordFake:
    fake = DiscordFake()
    fake.install(monkeypatch)
    return fake


# A real PostgreSQL server for the tests that need one (skipped where the binaries are missing).
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
