"""`briefbot discord sync|invite` end to end through the CLI, with discord.py's HTTP layer recorded (no gateway)."""

from __future__ import annotations

import pytest

from bot.cli import main
from bot.core import registry

from .discord_fixtures import APP_ID, GUILD_ID, DiscordFake

# view channel 1<<10, send messages 1<<11, embed links 1<<14, read message history 1<<16,
# create public threads 1<<35, send messages in threads 1<<38
PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 14) | (1 << 16) | (1 << 35) | (1 << 38)
LOGIN = ["GET /users/@me", "GET /oauth2/applications/@me"]
COMMANDS = set(registry.names())


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> DiscordFake:
    for var in ("DISCORD_TOKEN", "DISCORD_APPLICATION_ID", "BRIEFBOT_DISCORD_MESSAGE_CONTENT", "BRIEFBOT_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    fake = DiscordFake()
    fake.install(monkeypatch)
    return fake


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["discord", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_invite_prints_the_url_with_exact_permissions(
    fake: DiscordFake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With DISCORD_APPLICATION_ID set, invite prints the OAuth URL with both scopes and exactly 309237730304."""
    monkeypatch.setenv("DISCORD_APPLICATION_ID", str(APP_ID))
    code, out, _ = run(capsys, "invite")
    assert code == 0
    assert PERMISSIONS == 309237730304
    assert out.strip() == (
        f"https://discord.com/oauth2/authorize?client_id={APP_ID}"
        f"&scope=bot+applications.commands&permissions={PERMISSIONS}"
    )
    assert fake.requests == []


def test_invite_looks_up_the_application_id_with_the_token(
    fake: DiscordFake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without DISCORD_APPLICATION_ID, invite logs in over HTTP only to read the application's id."""
    monkeypatch.setenv("DISCORD_TOKEN", "test-token")
    code, out, _ = run(capsys, "invite")
    assert code == 0 and f"client_id={APP_ID}&" in out
    assert fake.paths() == LOGIN


def test_invite_without_configuration_says_what_to_set(fake: DiscordFake, capsys: pytest.CaptureFixture[str]) -> None:
    """With neither the id nor the token, invite exits 2 naming both variables."""
    code, _, err = run(capsys, "invite")
    assert code == 2
    assert "DISCORD_APPLICATION_ID" in err and "DISCORD_TOKEN" in err
    assert fake.requests == []


def test_sync_to_a_guild_puts_every_command_there(
    fake: DiscordFake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """sync --guild logs in over HTTP and bulk-overwrites that guild's commands; it never opens the gateway."""
    monkeypatch.setenv("DISCORD_TOKEN", "test-token")
    code, out, _ = run(capsys, "sync", "--guild", str(GUILD_ID))
    assert code == 0
    assert fake.paths() == [*LOGIN, f"PUT /applications/{APP_ID}/guilds/{GUILD_ID}/commands"]
    sent = {command["name"]: command for command in fake.requests[-1].json}
    assert set(sent) == COMMANDS
    (topic,) = sent["takeaways"]["options"]
    assert topic["autocomplete"] is True and topic["required"] is False
    (question,) = sent["ask"]["options"]
    assert question["required"] is True
    assert [sub["name"] for sub in sent["digest"]["options"]] == ["subscribe", "unsubscribe", "list", "now", "help"]
    assert f"Synced {len(COMMANDS)} commands to server {GUILD_ID}" in out and "/ask" in out


def test_sync_without_guild_is_global(
    fake: DiscordFake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Plain sync registers the commands globally."""
    monkeypatch.setenv("DISCORD_TOKEN", "test-token")
    code, out, _ = run(capsys, "sync")
    assert code == 0
    assert fake.paths() == [*LOGIN, f"PUT /applications/{APP_ID}/commands"]
    assert {c["name"] for c in fake.requests[-1].json} == COMMANDS
    assert "all servers (global)" in out


def test_sync_clear_removes_a_guilds_copies(
    fake: DiscordFake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """sync --guild ID --clear overwrites that guild's commands with none."""
    monkeypatch.setenv("DISCORD_TOKEN", "test-token")
    code, out, _ = run(capsys, "sync", "--guild", str(GUILD_ID), "--clear")
    assert code == 0
    assert fake.requests[-1].json == []
    assert f"Removed briefbot's commands from server {GUILD_ID}" in out


def test_sync_without_token_explains_how_to_get_one(fake: DiscordFake, capsys: pytest.CaptureFixture[str]) -> None:
    """sync without DISCORD_TOKEN exits 2 with a pointer to the developer portal, sending nothing."""
    code, _, err = run(capsys, "sync")
    assert code == 2
    assert "DISCORD_TOKEN is not set" in err and "developer portal" in err
    assert fake.requests == []


def test_sync_with_a_rejected_token_says_so(
    fake: DiscordFake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A token Discord answers 401 for gives a clear error, not a traceback."""
    monkeypatch.setenv("DISCORD_TOKEN", "revoked-token")
    fake.refuse("GET", r"/users/@me", status=401)
    code, _, err = run(capsys, "sync")
    assert code == 2
    assert "rejected DISCORD_TOKEN" in err
    assert fake.paths() == ["GET /users/@me"]
