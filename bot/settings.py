"""Typed settings, read once from the environment (and an optional TOML file) in `main()` and passed down.

Secrets are `SecretStr`: they never print in a repr, a log line or an error. A platform's secrets are only
required when that platform starts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigurationError(ValueError):
    """A setting that cannot work; the message names it and says what to do."""


class SlackSettings(BaseModel):
    bot_token: SecretStr | None = None
    app_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    mode: Literal["socket", "http"] | None = None
    port: int = 3000
    api_url: str = "https://slack.com/api/"
    # Command names are configurable: a workspace may already have a /brief.
    command_prefix: str = ""
    # Slack user ids (U...) allowed to subscribe and unsubscribe channels to digests, besides workspace admins.
    digest_admins: frozenset[str] = frozenset()

    @field_validator("digest_admins", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        """BRIEFBOT_SLACK_DIGEST_ADMINS is one string: ids separated by commas or spaces."""
        if isinstance(value, str):
            return frozenset(part for part in value.replace(",", " ").split() if part)
        return value

    @property
    def configured(self) -> bool:
        return self.bot_token is not None and (self.app_token is not None or self.signing_secret is not None)

    @property
    def resolved_mode(self) -> Literal["socket", "http"]:
        if self.mode:
            return self.mode
        return "socket" if self.app_token is not None else "http"


class DiscordSettings(BaseModel):
    token: SecretStr | None = None
    application_id: int | None = None
    message_content: bool | None = None  # None: detect from the application's flags at start
    # Replicas split the gateway: each runs shard `shard_id` of `shard_count` (both or neither).
    shard_count: int | None = Field(default=None, ge=1)
    shard_id: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_shard(self) -> DiscordSettings:
        if (self.shard_count is None) != (self.shard_id is None):
            raise ValueError("set both BRIEFBOT_DISCORD_SHARD_COUNT and BRIEFBOT_DISCORD_SHARD_ID, or neither")
        if self.shard_count is not None and self.shard_id is not None and self.shard_id >= self.shard_count:
            raise ValueError(f"BRIEFBOT_DISCORD_SHARD_ID must be below the shard count ({self.shard_count})")
        return self

    @property
    def configured(self) -> bool:
        return self.token is not None


class DigestSettings(BaseModel):
    """What scheduled digests need: how far apart a channel's digests must be, how late one may still go out,
    and the timezone a subscription uses when it names none."""

    model_config = ConfigDict(frozen=True)

    min_interval: int = Field(default=3600, ge=60)  # seconds between two digests in one channel, at least
    grace: int = Field(default=3600, ge=1)  # seconds after its time a digest may still be delivered
    timezone: str = "UTC"


class Settings(BaseSettings):
    """All of briefbot's configuration. Environment variables win over the TOML file, which wins over defaults."""

    model_config = SettingsConfigDict(env_prefix="BRIEFBOT_", env_nested_delimiter="__", extra="ignore")

    corpus_dir: Path = Field(default=Path("corpus"), validation_alias=AliasChoices("BRIEFBOT_CORPUS", "corpus_dir"))
    data_dir: Path = Field(default=Path("data"), validation_alias=AliasChoices("BRIEFBOT_DATA", "data_dir"))
    database_url: str | None = None  # default: SQLite file in the data directory
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"  # BRIEFBOT_LOG_FORMAT
    timezone: str = "UTC"
    # BRIEFBOT_DIGEST_MIN_INTERVAL and BRIEFBOT_DIGEST_GRACE, in seconds (see docs/digests.md).
    digest_min_interval: int = Field(default=3600, ge=60)
    digest_grace: int = Field(default=3600, ge=1)
    # BRIEFBOT_FEEDS_THEME: what the story is about, in a sentence; feed entries far from it and from the corpus
    # are skipped (docs/feeds.md). Unset: closeness to the corpus alone decides.
    feeds_theme: str | None = None
    # BRIEFBOT_OPS_PORT: serve /healthz, /readyz and /metrics on this port (unset: not served); BRIEFBOT_OPS_HOST.
    ops_port: int | None = Field(default=None, ge=0, le=65535)
    ops_host: str = "127.0.0.1"
    slack: SlackSettings = SlackSettings()
    discord: DiscordSettings = DiscordSettings()

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in _LEVELS:
            raise ValueError(f"unknown log level {value!r}; use {', '.join(_LEVELS)}")
        return value.upper()

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str | None) -> str | None:
        if value and not value.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://")):
            scheme = value.split(":", 1)[0]
            raise ValueError(
                f"{scheme!r} databases are not supported; use postgresql+psycopg://USER:PASSWORD@HOST/DB "
                "or leave it unset for the SQLite file in the data directory"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}; use an IANA name such as Europe/Berlin") from exc
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, _PlatformEnv(settings_cls)]
        config_file = os.environ.get("BRIEFBOT_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    @property
    def digest(self) -> DigestSettings:
        return DigestSettings(min_interval=self.digest_min_interval, grace=self.digest_grace, timezone=self.timezone)

    @property
    def state_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'state.sqlite3').as_posix()}"


class _PlatformEnv(PydanticBaseSettingsSource):
    """The platforms' conventional variable names: SLACK_BOT_TOKEN, DISCORD_TOKEN and friends."""

    _SLACK: ClassVar[dict[str, str]] = {
        "SLACK_BOT_TOKEN": "bot_token",
        "SLACK_APP_TOKEN": "app_token",
        "SLACK_SIGNING_SECRET": "signing_secret",
        "BRIEFBOT_SLACK_MODE": "mode",
        "BRIEFBOT_SLACK_PORT": "port",
        "BRIEFBOT_SLACK_API_URL": "api_url",
        "BRIEFBOT_SLACK_COMMAND_PREFIX": "command_prefix",
        "BRIEFBOT_SLACK_DIGEST_ADMINS": "digest_admins",
    }
    _DISCORD: ClassVar[dict[str, str]] = {
        "DISCORD_TOKEN": "token",
        "DISCORD_APPLICATION_ID": "application_id",
        "BRIEFBOT_DISCORD_MESSAGE_CONTENT": "message_content",
        "BRIEFBOT_DISCORD_SHARD_COUNT": "shard_count",
        "BRIEFBOT_DISCORD_SHARD_ID": "shard_id",
    }

    def get_field_value(self, field: object, field_name: str) -> tuple[object, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for section, names in (("slack", self._SLACK), ("discord", self._DISCORD)):
            values = {key: os.environ[var] for var, key in names.items() if os.environ.get(var)}
            if values:
                out[section] = values
        return out


def load_settings(**overrides: object) -> Settings:
    """The settings, or ConfigurationError with one line per problem, each naming its variable."""
    config_file = os.environ.get("BRIEFBOT_CONFIG")
    if config_file and not Path(config_file).is_file():
        raise ConfigurationError(f"BRIEFBOT_CONFIG: {config_file} is not a file (unset it or point it at a TOML file)")
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = [f"{_variable(error['loc'])}: {_message(error)}" for error in exc.errors()]
        raise ConfigurationError("\n".join(lines)) from None
    except (OSError, ValueError) as exc:  # an unreadable or malformed TOML file
        raise ConfigurationError(f"BRIEFBOT_CONFIG: {config_file}: {exc}") from None


def _variable(loc: tuple[int | str, ...]) -> str:
    """('slack', 'port') -> BRIEFBOT_SLACK_PORT; the platforms' own names where they have one."""
    parts = [str(p) for p in loc if not str(p).isdigit()]
    if parts[:1] == ["slack"] and len(parts) > 1:
        own = {v: k for k, v in _PlatformEnv._SLACK.items()}.get(parts[1])
        if own:
            return own
    if parts[:1] == ["discord"] and len(parts) > 1:
        own = {v: k for k, v in _PlatformEnv._DISCORD.items()}.get(parts[1])
        if own:
            return own
    names = {"corpus_dir": "BRIEFBOT_CORPUS", "data_dir": "BRIEFBOT_DATA"}
    return names.get(parts[0], "BRIEFBOT_" + "_".join(parts).upper()) if parts else "BRIEFBOT"


def _message(error: Any) -> str:
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ")
