"""The boundary between the digest service and a platform: post a digest, and look for one already posted.

Each platform implements `DigestSender` (console here; Slack and Discord in their adapter packages) and reports
failures as the typed errors below, so the service decides retries and pauses without knowing any SDK.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.digests.models import DigestMarker
from bot.replies import Reply


class DeliveryError(Exception):
    """A digest could not be posted; the subclass says what the service should do about it."""


class ChannelGone(DeliveryError):  # noqa: N818  # reads as what happened, like RetryLater
    """The channel no longer exists, or the bot was removed from it: pause its subscriptions."""


class RetryLater(DeliveryError):  # noqa: N818  # an instruction, not a fault
    """Rate limited: nothing was posted; try again after `retry_after` seconds."""

    def __init__(self, retry_after: float, message: str = "rate limited") -> None:
        super().__init__(f"{message} (retry after {retry_after:g} s)")
        self.retry_after = retry_after


class TransientError(DeliveryError):
    """A server error or a broken connection: the digest may or may not have been posted. Check, then retry."""


class PermanentError(DeliveryError):
    """The platform refused this digest for a reason retrying cannot fix (e.g. a malformed message)."""


class DigestSender(Protocol):
    """One platform's way to post digests. Implementations raise only `DeliveryError` subclasses."""

    async def send(self, channel: str, reply: Reply, marker: DigestMarker) -> str:
        """Post `reply` to `channel` carrying `marker`; return the platform's id for the (first) message."""
        ...

    async def has_marker(self, channel: str, marker: DigestMarker, since: datetime) -> bool:
        """True when a message carrying `marker`, posted at or after `since`, is in `channel`."""
        ...
