"""/digest subscribe|list|now|unsubscribe: the channel's scheduled digests.

Subscribing and unsubscribing change the channel for everyone, so they need `Conversation.can_manage`; listing
and previewing are for everyone.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.core.base import CONTROL, MAX_DIGEST_CHARS, CommandError, Conversation
from bot.core.registry import Argument, Command
from bot.digests.schedule import EXAMPLES, ScheduleError, parse_subscription
from bot.digests.subscriptions import DigestInputError
from bot.replies import Bullet, Paragraph, Reply

if TYPE_CHECKING:
    from bot.core.bot import BriefingBot

log = logging.getLogger("bot.core.commands")

NOT_A_MANAGER = (
    "Only people who may manage this channel can subscribe it to digests or stop them. "
    "Ask one of them; /digest list and /digest now work for everyone."
)


def digest(bot: BriefingBot, args: str, conversation: Conversation) -> Reply:
    """/digest subscribe [when] [timezone] [quiet] | unsubscribe [id] | list | now, for this channel."""
    args = " ".join(CONTROL.sub(" ", args or "").split())
    if len(args) > MAX_DIGEST_CHARS:
        raise CommandError(f"That is {len(args)} characters long; please keep /digest under {MAX_DIGEST_CHARS}.")
    channel = conversation.channel or ("console" if conversation.platform == "console" else None)
    if channel is None:
        raise CommandError("Digests belong to a channel: use /digest in the channel that should get them.")
    action, _, rest = args.partition(" ")
    action = action.lower()
    platform = conversation.platform
    try:
        if action in {"", "help"}:
            return usage()
        if action in COMMAND.manages:
            if not conversation.can_manage:
                log.info("digest %s refused: %s may not manage %s:%s", action, conversation.user, platform, channel)
                raise CommandError(NOT_A_MANAGER)
            if action == "subscribe":
                return bot.digests.subscribe(platform, channel, rest, conversation.user)
            return bot.digests.unsubscribe(platform, channel, rest)
        if action == "list":
            return bot.digests.list(platform, channel)
        if action == "now":
            return bot.digests.preview(platform, channel)
    except DigestInputError as exc:
        raise CommandError(str(exc)) from None
    hint = (
        f"did you mean /digest subscribe {args}?"
        if _reads_as_schedule(args, bot.digests.settings.timezone)
        else "/digest help explains them."
    )
    raise CommandError(
        f"/digest has no '{action[:40]}'. Use /digest subscribe <when>, list, now or unsubscribe; {hint}"
    )


def _reads_as_schedule(text: str, timezone: str) -> bool:
    try:
        parse_subscription(text, default_timezone=timezone)
    except ScheduleError:
        return False
    return True


def usage() -> Reply:
    return Reply(
        "help",
        title="Scheduled digests",
        paragraphs=(
            Paragraph(
                "A digest brings this channel what is new in the articles since its last digest, then the key "
                "takeaways, on a schedule. A time is in the configured timezone unless you name one; add `quiet` "
                "to skip digests with nothing new."
            ),
        ),
        bullets=(
            Bullet("/digest subscribe <when> [timezone] [quiet]: e.g. " + ", ".join(EXAMPLES)),
            Bullet("/digest list: this channel's digests and when each arrives next"),
            Bullet("/digest now: the digest for this channel, right now"),
            Bullet("/digest unsubscribe [id]: stop one digest, or all of this channel's"),
        ),
        footer="Subscribing and unsubscribing is for people who may manage the channel.",
        ephemeral=True,
    )


COMMAND = Command(
    name="digest",
    summary="Scheduled digests for this channel",
    handler=digest,
    argument=Argument(
        "action",
        "subscribe <when> [timezone] [quiet], list, now or unsubscribe [id]",
        MAX_DIGEST_CHARS,
        hint="subscribe <when> | list | now | unsubscribe [id]",
    ),
    position=70,
    manages=frozenset({"subscribe", "unsubscribe"}),
)
