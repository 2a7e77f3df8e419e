"""Scheduled digests on Slack: the `DigestSender` for bot.digests, plus who may manage a channel's digests.

Each digest message carries message metadata (event_type `briefbot_digest`, payload with the digest's marker),
so after a crash the service can ask conversations.history (include_all_metadata) whether it went out.
Needs the scopes chat:write and channels:history / groups:history (to look for markers); users:read for the
workspace-admin check.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.digests.models import SLACK_EVENT_TYPE, DigestMarker
from bot.digests.sender import ChannelGone, DeliveryError, PermanentError, RetryLater, TransientError
from bot.render.slack import SlackMessage, render_reply
from bot.replies import Reply

log = logging.getLogger(__name__)

# Errors meaning the bot cannot reach this channel any more: its subscriptions pause.
GONE_ERRORS = frozenset({"channel_not_found", "not_in_channel", "is_archived", "team_access_not_granted"})
# Errors Slack itself calls temporary.
TRANSIENT_ERRORS = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
HISTORY_PAGE = 200
HISTORY_PAGES = 5  # how far back has_marker looks: 1,000 messages since the digest was claimed
CONTINUATION_RETRIES = 5  # rate limits on the second and later parts of a long digest are waited out here


class SlackDigestSender:
    """Posts digests with chat.postMessage. `localize` rewrites command names (the workspace's command prefix)."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        localize: Callable[[Reply], Reply] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.localize = localize or (lambda reply: reply)
        self.sleep = sleep

    async def send(self, channel: str, reply: Reply, marker: DigestMarker) -> str:
        """Post the digest; errors on the first message are typed for the service (nothing was posted yet)."""
        first, *rest = render_reply(self.localize(reply))
        try:
            first_ts = await self._post(channel, first, marker, 1)
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            raise delivery_error(exc) from exc
        for part, message in enumerate(rest, start=2):
            # The digest is in the channel already: a later part that fails is logged, never a reason to re-send.
            if not await self._post_continuation(channel, message, marker, part):
                break
        return first_ts

    async def has_marker(self, channel: str, marker: DigestMarker, since: datetime) -> bool:
        cursor: str | None = None
        try:
            for _ in range(HISTORY_PAGES):
                response = await self.client.conversations_history(
                    channel=channel,
                    oldest=f"{since.timestamp():.6f}",
                    include_all_metadata=True,
                    limit=HISTORY_PAGE,
                    cursor=cursor,
                )
                if any(_carries(m, marker) for m in response.get("messages") or []):
                    return True
                cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
                if cursor is None:
                    return False
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            raise delivery_error(exc) from exc
        return False

    async def _post(self, channel: str, message: SlackMessage, marker: DigestMarker, part: int) -> str:
        response = await self.client.chat_postMessage(
            channel=channel,
            text=message.text,
            blocks=list(message.blocks),
            metadata={
                "event_type": SLACK_EVENT_TYPE,
                "event_payload": {
                    "marker": marker.text,
                    "subscription": marker.subscription_id,
                    "scheduled": marker.scheduled_iso,
                    "part": part,
                },
            },
            link_names=False,
            unfurl_links=False,
            unfurl_media=False,
        )
        return str(response["ts"])

    async def _post_continuation(self, channel: str, message: SlackMessage, marker: DigestMarker, part: int) -> bool:
        for _ in range(CONTINUATION_RETRIES):
            try:
                await self._post(channel, message, marker, part)
            except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
                error = delivery_error(exc)
                if isinstance(error, RetryLater):
                    await self.sleep(error.retry_after)
                    continue
                log.warning("slack digest %s: part %d not posted: %s", marker.text, part, error)
                return False
            return True
        log.warning("slack digest %s: part %d not posted: still rate limited", marker.text, part)
        return False


def _carries(message: dict[str, Any], marker: DigestMarker) -> bool:
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    return bool(metadata.get("event_type") == SLACK_EVENT_TYPE and payload.get("marker") == marker.text)


def delivery_error(exc: Exception) -> DeliveryError:
    """A Slack SDK or network failure as the service's typed error."""
    if not isinstance(exc, SlackApiError):
        if isinstance(exc, aiohttp.ClientError | TimeoutError):
            return TransientError(f"connection failed: {type(exc).__name__}")
        return PermanentError(f"{type(exc).__name__}: {exc}")
    response = exc.response
    status = int(getattr(response, "status_code", None) or getattr(response, "status", 0) or 0)
    data = getattr(response, "data", None)
    error = str(data.get("error") or "") if isinstance(data, dict) else ""
    if status == 429 or error == "ratelimited":
        headers = getattr(response, "headers", None) or {}
        return RetryLater(_seconds(headers.get("Retry-After")), "Slack rate limit")
    if error in GONE_ERRORS:
        return ChannelGone(f"Slack: {error}")
    if status >= 500 or error in TRANSIENT_ERRORS:
        return TransientError(f"Slack answered {status} {error}".rstrip())
    return PermanentError(f"Slack: {error or status}")


def _seconds(value: object) -> float:
    try:
        return max(0.0, float(str(value)))
    except ValueError:
        return 1.0


async def can_manage_digests(client: AsyncWebClient, user_id: str | None, admins: frozenset[str]) -> bool:
    """`Conversation.can_manage` for a Slack user: listed in BRIEFBOT_SLACK_DIGEST_ADMINS, or a workspace admin or
    owner (users.info; without the users:read scope only the list counts)."""
    if not user_id:
        return False
    if user_id in admins:
        return True
    try:
        response = await client.users_info(user=user_id)
    except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
        log.warning("slack: could not look up %s for digest permissions: %s", user_id, type(exc).__name__)
        return False
    user = response.get("user") or {}
    return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
