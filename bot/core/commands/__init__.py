"""The commands, one module each. Every module declares `COMMAND = Command(...)`; bot.core.registry finds them."""
