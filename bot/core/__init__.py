"""Platform-neutral commands. Nothing here imports a chat SDK: adapters translate in and out.

bot.core.registry lists the commands (one module each in bot/core/commands/); BriefingBot runs them; Gateway is
the async door the chat adapters use (they never reach past it into the engine or the store).
"""

from bot.core.base import CommandError, Conversation
from bot.core.bot import BriefingBot, parse_command
from bot.core.gateway import Gateway
from bot.core.registry import Argument, Command
from bot.replies import Bullet, Paragraph, Reply

__all__ = [
    "Argument",
    "BriefingBot",
    "Bullet",
    "Command",
    "CommandError",
    "Conversation",
    "Gateway",
    "Paragraph",
    "Reply",
    "parse_command",
]
