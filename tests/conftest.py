"""Shared fixtures: the real default corpus, a fresh data directory per test, a real SQLite state store."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.core import BriefingBot
from bot.storage import StateStore
from briefings.engine import BriefingEngine

from .discord_fixtures import DiscordFake
from .pg import PostgresUnavailableError, postgres_server
from .slack_mock import MockSlack

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
ISOLATED_PREFIXES = ("BRIEFBOT_", "SLACK_", "DISCORD_")


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


# A real PostgreSQL server for the tests that need one. Where it cannot run, they skip (pytest -rs names them),
# unless REQUIRE_POSTGRES is set: CI sets it, so the PostgreSQL tests cannot be skipped there unnoticed.
REQUIRE_POSTGRES = os.environ.get("BRIEFBOT_TEST_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    try:
        import psycopg  # noqa: F401

        with postgres_server() as url:
            yield url
    except (ImportError, PostgresUnavailableError) as exc:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required here (BRIEFBOT_TEST_REQUIRE_POSTGRES=1) but cannot run: {exc}")
        pytest.skip(f"PostgreSQL cannot run here: {exc}")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the caller's BRIEFBOT_* or platform settings (a BRIEFBOT_DATABASE_URL in the shell must
    not send a test's writes to that database); a test sets what it needs."""
    for name in list(os.environ):
        if name.startswith(ISOLATED_PREFIXES):
            monkeypatch.delenv(name)
