"""/feeds list | add <url> [every] | remove <id>: the news feeds the bot follows.

Everyone may list them; adding and removing change what every channel reads, so they need
`Conversation.can_manage` (the same permission as subscribing a channel to digests).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.core.base import CONTROL, CommandError, Conversation
from bot.core.registry import Argument, Command
from bot.feeds.service import FeedInputError, describe_every
from bot.replies import Bullet, Paragraph, Reply

if TYPE_CHECKING:
    from bot.core.bot import BriefingBot

log = logging.getLogger("bot.core.commands")

MAX_FEEDS_CHARS = 2200  # a long feed URL and an interval
NOT_A_MANAGER = "Only people who may manage this channel can add or remove feeds. /feeds list works for everyone."


def feeds(bot: BriefingBot, args: str, conversation: Conversation) -> Reply:
    args = " ".join(CONTROL.sub(" ", args or "").split())
    if len(args) > MAX_FEEDS_CHARS:
        raise CommandError(f"That is {len(args)} characters long; please keep /feeds under {MAX_FEEDS_CHARS}.")
    action, _, rest = args.partition(" ")
    action = action.lower() or "list"
    try:
        if action == "list":
            return _listing(bot)
        if action in COMMAND.manages and not conversation.can_manage:
            log.info("feeds %s refused: %s may not manage feeds", action, conversation.user)
            raise CommandError(NOT_A_MANAGER)
        if action == "add":
            url, _, every = rest.partition(" ")
            feed = bot.feeds.add(url.strip("<>"), every.strip() or None, created_by=conversation.user)
            return Reply(
                "notice",
                title="Feed added",
                paragraphs=(
                    Paragraph(
                        f"Following {feed.name} ({feed.id}), every {describe_every(feed.interval)}. New articles on "
                        "the story appear in answers and in the next digest."
                    ),
                ),
            )
        if action == "remove":
            feed = bot.feeds.remove(rest)
            return Reply(
                "notice",
                title="Feed removed",
                paragraphs=(Paragraph(f"Stopped following {feed.name} ({feed.id}); its articles stay."),),
            )
    except FeedInputError as exc:
        raise CommandError(str(exc)) from None
    raise CommandError(
        f"/feeds has no '{action[:40]}'. Use /feeds list, /feeds add <url> [every] or /feeds remove <id>."
    )


def _listing(bot: BriefingBot) -> Reply:
    rows = bot.feeds.overview()
    if not rows:
        return Reply(
            "notice",
            title="No feeds yet",
            paragraphs=(
                Paragraph("Add one with /feeds add <url> [every], e.g. /feeds add https://example.com/rss 30m."),
            ),
            ephemeral=True,
        )
    lines = []
    for feed, counts in rows:
        status = "active" if feed.status == "active" else f"paused: {feed.status_reason or 'by an error'}"
        last = feed.last_success_at.strftime("%Y-%m-%d %H:%M UTC") if feed.last_success_at else "never"
        text = (
            f"{feed.name} ({feed.id}), every {describe_every(feed.interval)}, {status}; last success {last}; "
            f"{counts.imported} imported, {counts.skipped} skipped, {counts.failed} failed"
        )
        if feed.last_error and feed.status == "active" and feed.failures:
            text += f"; last error: {feed.last_error}"
        lines.append(Bullet(text))
    return Reply("help", title=f"Feeds ({len(rows)})", bullets=tuple(lines), ephemeral=True)


COMMAND = Command(
    name="feeds",
    summary="The news feeds the bot follows; add or remove one",
    handler=feeds,
    argument=Argument(
        "action",
        "list, add <url> [every, e.g. 30m] or remove <id>",
        MAX_FEEDS_CHARS,
        hint="list | add <url> | remove <id>",
    ),
    visibility="private",
    manages=frozenset({"add", "remove"}),
    position=75,
)
