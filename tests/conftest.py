"""Shared fixtures: the real default corpus, a fresh data directory per test, a real SQLite state store."""

from __future__ import annotations

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


# A real PostgreSQL server for the tests that need one (skipped where it cannot run here).
@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    pytest.importorskip("psycopg")
    try:
        with postgres_server() as url:
            yield url
    except PostgresUnavailableError as exc:
        pytest.skip(str(exc))
