"""The state store on a real PostgreSQL server, started by the test itself: same schema, same behaviour."""

from __future__ import annotations

from bot.storage import ConversationTurn, StateStore
from briefings.models import Citation


def test_migrations_threads_and_turns_on_postgres(postgres_url: str) -> None:
    """Migrations apply on PostgreSQL, twice without harm, and threads keep their turns across store instances."""
    store = StateStore(postgres_url)
    thread = store.resolve_thread(None)
    citation = Citation("doc", "Title", None, "A quote.")
    store.add_turn(thread, ConversationTurn("Q1?", "A1.", True, ("term",), (citation,)))
    store.add_turn(thread, ConversationTurn("Q2?", "A2.", False, (), ()))
    store.link_thread(thread, "slack:C1:1.2")
    store.close()

    again = StateStore(postgres_url)  # a restart: migrate() finds the schema current
    assert again.resolve_thread("slack:C1:1.2") == thread
    history = again.history(thread)
    assert [t.question for t in history] == ["Q1?", "Q2?"]
    assert history[0].citations == (citation,) and history[0].focus == ("term",)
    assert again.claim_event("slack:Ev1") is True
    assert again.claim_event("slack:Ev1") is False
    again.close()
