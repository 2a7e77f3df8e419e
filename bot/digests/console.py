"""Digests in the terminal: the console's `DigestSender`, so `briefbot run` without a platform shows them firing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TextIO

from bot.digests.models import DigestMarker
from bot.render.text import render_text
from bot.replies import Reply


class ConsoleDigestSender:
    """Prints each digest. The terminal keeps no history, so `has_marker` knows only this run's digests: a digest
    interrupted mid-print by a crash is printed again after the restart (within the grace period)."""

    def __init__(self, out: TextIO, *, prompt: Callable[[], str] | None = None) -> None:
        """`prompt` (interactive sessions) is shown again after a digest, which lands while the prompt waits."""
        self.out = out
        self.prompt = prompt
        self.printed: list[str] = []  # markers, in order

    async def send(self, channel: str, reply: Reply, marker: DigestMarker) -> str:
        when = marker.scheduled_at.strftime("%Y-%m-%d %H:%M UTC")
        self.out.write(f"\n--- scheduled digest ({when}) ---\n")
        self.out.write(render_text(reply))
        self.out.write("\n")
        if self.prompt is not None:
            self.out.write(self.prompt())
        self.out.flush()
        self.printed.append(marker.text)
        return f"console:{len(self.printed)}"

    async def has_marker(self, channel: str, marker: DigestMarker, since: datetime) -> bool:
        return marker.text in self.printed
