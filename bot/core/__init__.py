"""Platform-neutral commands. Nothing here imports a chat SDK: adapters translate in and out."""

from bot.core.commands import BriefingBot, CommandError, Conversation, parse_command
from bot.core.replies import Bullet, Paragraph, Reply

__all__ = ["BriefingBot", "Bullet", "CommandError", "Conversation", "Paragraph", "Reply", "parse_command"]
