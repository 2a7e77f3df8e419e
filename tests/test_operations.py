"""Clear failures for operators: every configuration error is one line naming its setting with exit 2, nothing
configured and no input says what to configure, concurrent CLI processes wait instead of failing, an unreachable
database is retried then named (without its password), and a closed pipe is quiet."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.core import BriefingBot, Gateway
from bot.storage import store as store_module
from bot.storage.store import StateStore, StoreUnavailableError

from .conftest import DEFAULT_CORPUS


@pytest.fixture(autouse=True)
def _no_platforms(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "DISCORD_TOKEN", "BRIEFBOT_CONFIG"):
        monkeypatch.delenv(var, raising=False)


@pytest.mark.parametrize(
    ("env", "args", "named"),
    [
        ({"BRIEFBOT_LOG_LEVEL": "LOUD"}, [], "BRIEFBOT_LOG_LEVEL: unknown log level 'LOUD'"),
        ({"BRIEFBOT_CONFIG": "/missing.toml"}, [], "BRIEFBOT_CONFIG: /missing.toml is not a file"),
        ({"BRIEFBOT_DATABASE_URL": "mysql://u:p@h/db"}, [], "BRIEFBOT_DATABASE_URL: 'mysql' databases are not"),
        ({"BRIEFBOT_SLACK_PORT": "abc"}, [], "BRIEFBOT_SLACK_PORT: Input should be a valid integer"),
        ({"BRIEFBOT_TIMEZONE": "Mars/Olympus"}, [], "BRIEFBOT_TIMEZONE: unknown timezone 'Mars/Olympus'"),
        ({"BRIEFBOT_DISCORD_SHARD_COUNT": "2"}, [], "BRIEFBOT_DISCORD: set both BRIEFBOT_DISCORD_SHARD_COUNT"),
        (
            {"BRIEFBOT_DISCORD_SHARD_COUNT": "2", "BRIEFBOT_DISCORD_SHARD_ID": "2"},
            [],
            "BRIEFBOT_DISCORD: BRIEFBOT_DISCORD_SHARD_ID must be below the shard count (2)",
        ),
        ({}, ["--corpus", "/missing-corpus"], "BRIEFBOT_CORPUS: /missing-corpus is not a folder"),
        ({}, ["--data", "/proc/briefbot"], "BRIEFBOT_DATA: /proc/briefbot is not a writable folder"),
    ],
)
def test_a_configuration_error_is_one_line_naming_the_setting(
    env: dict[str, str],
    args: list[str],
    named: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Bad settings give exit 2 and `briefbot: SETTING: what is wrong`, no traceback, nothing written."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    base = ["--corpus", str(DEFAULT_CORPUS), "--data", str(tmp_path / "data")]
    assert main([*base, *args, "brief"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"briefbot: {named}") and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "data" / "index.sqlite3").exists()


def test_run_with_nothing_configured_and_no_input_says_what_to_configure(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`briefbot run </dev/null` without tokens (a container's default command) exits 2 naming the tokens;
    with piped commands it answers them and exits 0."""
    base = ["--corpus", str(DEFAULT_CORPUS), "--data", str(data_dir), "run"]
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(base) == 2
    err = capsys.readouterr().err
    assert "nothing to do" in err and "SLACK_BOT_TOKEN" in err and "DISCORD_TOKEN" in err
    monkeypatch.setattr(sys, "stdin", io.StringIO("/sources\n"))
    assert main(base) == 0
    assert "Sources (5 articles)" in capsys.readouterr().out


def test_four_cli_processes_on_a_fresh_data_directory_all_succeed(tmp_path: Path) -> None:
    """Started together on an unbuilt index, they wait for one another instead of failing with 'locked'."""
    corpus = tmp_path / "corpus"
    shutil.copytree(DEFAULT_CORPUS, corpus)
    briefbot = Path(sys.executable).parent / "briefbot"
    command = [str(briefbot), "--corpus", str(corpus), "--data", str(tmp_path / "data"), "brief", "--json"]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0, 0], [err[-500:] for _, err in results]
    assert len({json.loads(out)["headline"] for out, _ in results}) == 1


def test_an_unreachable_database_is_retried_then_named_without_its_password() -> None:
    """Nothing listens on the port: after the wait, one clear error that hides the password."""
    with pytest.raises(StoreUnavailableError) as caught:
        StateStore("postgresql+psycopg://briefbot:s3cret@127.0.0.1:9/briefbot", wait=1.0)
    message = str(caught.value)
    assert message.startswith("BRIEFBOT_DATABASE_URL: could not reach") and "s3cret" not in message


def test_a_closed_pipe_is_quiet(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`briefbot corpus list | head -1`: the reader leaves early; no traceback, exit 141."""

    class ClosedPipe(io.StringIO):
        def write(self, _: str) -> int:
            raise BrokenPipeError

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["--corpus", str(DEFAULT_CORPUS), "--data", str(data_dir), "corpus", "list"]) == 141
    assert capsys.readouterr().err == ""


def test_db_upgrade_applies_the_migrations_once_and_says_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`briefbot db upgrade` brings the state database to the newest revision and names it; again is a no-op."""
    versions = Path(store_module.__file__).parent / "migrations" / "versions"
    newest = max(p.name.split("_")[0] for p in versions.glob("[0-9]*_*.py"))
    for _ in range(2):
        assert main(["--corpus", str(DEFAULT_CORPUS), "--data", str(tmp_path / "data"), "db", "upgrade"]) == 0
        out = capsys.readouterr().out
        assert out.endswith(f"state.sqlite3: schema at revision {newest}\n")


def test_the_compose_file_runs_two_replicas_on_postgres() -> None:
    """compose.yaml: PostgreSQL with a healthcheck, two briefbot replicas that wait for it, share the corpus
    volume, keep their own data volume, and expose the ops port."""
    import yaml

    root = DEFAULT_CORPUS.parent
    compose = yaml.safe_load((root / "compose.yaml").read_text())
    services = compose["services"]
    assert services["db"]["image"].startswith("postgres:") and "healthcheck" in services["db"]
    replicas = [name for name in services if name.startswith("briefbot-")]
    assert len(replicas) == 2
    for name in replicas:
        service = services[name]
        assert service["depends_on"]["db"]["condition"] == "service_healthy"
        assert service["environment"]["BRIEFBOT_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert "corpus:/app/corpus" in service["volumes"]
        assert any(port.endswith(":8080") for port in service["ports"])
    assert len({tuple(services[n]["volumes"]) for n in replicas}) == 2  # own data volume each


def test_the_compose_file_is_valid_for_docker_compose() -> None:
    """`docker compose config` accepts it, where a Docker daemon answers."""
    root = DEFAULT_CORPUS.parent
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "info"], capture_output=True, check=False).returncode:
        pytest.skip("no Docker daemon here (the compose file is still checked statically)")
    done = subprocess.run([docker, "compose", "-f", str(root / "compose.yaml"), "config", "-q"], check=False)
    assert done.returncode == 0


def test_a_discord_replica_runs_the_shard_it_is_given(bot: BriefingBot) -> None:
    """BRIEFBOT_DISCORD_SHARD_ID/_COUNT reach the gateway client: this replica identifies as shard 1 of 3."""
    from bot.adapters.discord.runner import create_client

    client = create_client(Gateway(bot), message_content=False, shard=(1, 3))
    assert (client.shard_id, client.shard_count) == (1, 3)
    assert create_client(Gateway(bot), message_content=False).shard_id is None


def test_json_logs_are_one_object_per_line(tmp_path: Path) -> None:
    """BRIEFBOT_LOG_FORMAT=json: every log line parses as JSON with time, level, logger and message."""
    (tmp_path / "a.txt").write_text("A title here\n\nSome text of the article body.\n")
    briefbot = Path(sys.executable).parent / "briefbot"
    done = subprocess.run(
        [
            str(briefbot),
            "--log-level",
            "INFO",
            "--corpus",
            str(tmp_path / "c"),
            "--data",
            str(tmp_path / "d"),
            "corpus",
            "import",
            str(tmp_path / "a.txt"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "BRIEFBOT_LOG_FORMAT": "json"},
        check=True,
    )
    records = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert records and all({"asctime", "level", "name", "message"} <= set(r) for r in records)
    assert any(r["message"].startswith("added a-title-here") for r in records)
