"""Platform-neutral commands. Nothing here imports a chat SDK: adapters translate in and out.

bot.core.registry lists the commands (one module each in bot/core/commands/); BriefingBot runs them.
"""

from bot.core.base import CommandError, Conversation
from bot.core.bot import BriefingBot, parse_command
from bot.core.registry import Argument, Command
from bot.core.replies import Bullet, Paragraph, Reply

__all__ = [
    "Argument",
    "BriefingBot",
    "Bullet",
    "Command",
    "CommandError",
    "Conversation",
    "Paragraph",
    "Reply",
    "parse_command",
]
