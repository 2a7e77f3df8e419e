"""Conversation and bot state behind a small interface: SQLite by default, PostgreSQL for larger deployments."""

from bot.storage.store import ConversationTurn, StateStore

__all__ = ["ConversationTurn", "StateStore"]
