"""What arrives from Slack, in neutral terms: plain question text and thread keys.

Slack sends message text as mrkdwn: mentions as `<@U…>`, links as `<url|label>`, and `&`, `<`, `>` as entities.
The core wants plain words, so markup becomes its readable form here; the renderer escapes everything on the
way out, so nothing a user types can come back as a live mention.
"""

from __future__ import annotations

import re

_MARKUP = re.compile(r"<([^<>]*)>")


def thread_key(channel: str, thread_ts: str) -> str:
    """The store's external key for a Slack thread: its channel and the ts of its root message."""
    return f"slack:{channel}:{thread_ts}"


def mentions(text: str, user_id: str | None) -> bool:
    """True when `text` @mentions `user_id` (then Slack also sends an app_mention event for it)."""
    return bool(user_id) and f"<@{user_id}" in (text or "")


def plain_text(text: str, *, drop_user: str | None = None) -> str:
    """Slack mrkdwn as plain words: `<@U1|ann>` -> '@ann', `<#C1|news>` -> '#news', `<!here>` -> '@here',
    `<https://x|label>` -> 'label', entities decoded. Mentions of `drop_user` (the bot itself) are removed."""

    def readable(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return "" if drop_user and target[1:] == drop_user else f"@{label or target[1:]}"
        if target.startswith("#"):
            return f"#{label or target[1:]}"
        if target.startswith("!"):
            special = target[1:].split("^", 1)[0]
            return label if label and special in {"subteam", "date"} else f"@{label or special}"
        return label or target

    text = _MARKUP.sub(readable, text or "")
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())
