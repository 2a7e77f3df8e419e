"""Core commands: neutral replies, clear errors for bad input, threads that survive a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core import BriefingBot, CommandError, Conversation, parse_command
from bot.render.text import render_text
from bot.storage import StateStore
from briefings.engine import BriefingEngine
from briefings.loading import load_corpus

from .conftest import DEFAULT_CORPUS

ARTICLES = {a.doc_id: a for a in load_corpus(DEFAULT_CORPUS)}


def test_brief_reply_has_title_summary_bullets_and_sources(bot: BriefingBot) -> None:
    """/brief returns a titled reply with a cited summary paragraph and 5–8 cited bullets."""
    reply = bot.brief()
    assert reply.kind == "brief" and reply.title
    assert len(reply.paragraphs) == 1 and reply.paragraphs[0].citations
    assert 5 <= len(reply.bullets) <= 8
    assert all(b.citations for b in reply.bullets)
    assert {c.doc_id for c in reply.sources} <= set(ARTICLES)


def test_ask_starts_a_thread_and_a_follow_up_continues_it(bot: BriefingBot) -> None:
    """An answer carries a thread id; a follow-up in that thread is answered in its context."""
    first = bot.ask("What did Bob Woodward allege?")
    assert first.kind == "answer" and first.thread_id
    follow = bot.ask("How did the Kremlin respond to that?", first.thread_id)
    assert follow.thread_id == first.thread_id
    assert "flatly denied the report" in follow.paragraphs[0].text
    elsewhere = bot.ask("How did the Kremlin respond to that?")
    assert elsewhere.thread_id != first.thread_id


def test_threads_survive_a_restart(data_dir: Path) -> None:
    """Conversation state lives in the SQLite file: a new process continues the same thread."""
    url = f"sqlite:///{data_dir / 'state.sqlite3'}"
    first_bot = BriefingBot(BriefingEngine(DEFAULT_CORPUS, data_dir), StateStore(url))
    thread = first_bot.ask("What did Bob Woodward allege?").thread_id
    first_bot.store.close()
    first_bot.engine.close()
    second_bot = BriefingBot(BriefingEngine(DEFAULT_CORPUS, data_dir), StateStore(url))
    follow = second_bot.ask("How did the Kremlin respond to that?", thread)
    assert "flatly denied the report" in follow.paragraphs[0].text
    assert len(second_bot.store.history(thread or "")) == 2


def test_platform_thread_keys_link_to_threads(bot: BriefingBot) -> None:
    """A thread linked to a platform key (e.g. a Slack message) is continued when addressed by that key."""
    first = bot.ask("What did Bob Woodward allege?")
    bot.store.link_thread(first.thread_id or "", "slack:C1:1712.0001")
    assert bot.store.thread_exists("slack:C1:1712.0001")
    follow = bot.ask("How did the Kremlin respond to that?", "slack:C1:1712.0001")
    assert follow.thread_id == first.thread_id
    assert "flatly denied" in follow.paragraphs[0].text


def test_off_corpus_question_is_declined_with_suggestions(bot: BriefingBot) -> None:
    """An uncovered on-theme question gets a plain decline listing nearby topics, no citations, answered=False."""
    reply = bot.ask("What is Putin's favorite food?")
    assert reply.kind == "decline" and reply.answered is False
    assert not reply.citations and reply.suggestions
    assert "don't answer" in reply.paragraphs[0].text


def test_question_about_an_unknown_name_says_the_name_is_not_mentioned(bot: BriefingBot) -> None:
    """A question naming something no article mentions is declined by naming it."""
    reply = bot.ask("What is the capital of France?")
    assert reply.kind == "decline" and reply.answered is False and not reply.citations
    assert "don't mention France" in reply.paragraphs[0].text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("/bogus", "don't know the command"),
        ("brief", "start with '/'"),
        ("/ask", "add a question"),
        ("/ask    ", "add a question"),
        ("/ask " + "x" * 600, "under 500"),
        ("/takeaways " + "y" * 200, "under 100"),
    ],
)
def test_bad_commands_get_clear_errors_and_change_nothing(bot: BriefingBot, text: str, message: str) -> None:
    """Malformed commands become an ephemeral error reply and store no conversation turn."""
    reply = bot.handle(text, Conversation())
    assert reply.kind == "error" and reply.ephemeral
    assert message.lower() in reply.paragraphs[0].text.lower()
    with bot.store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM turns").scalar_one() == 0


def test_parse_command_splits_name_and_argument() -> None:
    """'/ASK  question' parses to ('ask', 'question'); unknown names raise CommandError."""
    assert parse_command("/ASK  When did they meet?") == ("ask", "When did they meet?")
    assert parse_command("/takeaways") == ("takeaways", "")
    with pytest.raises(CommandError):
        parse_command("/rm -rf")


def test_hostile_text_is_treated_as_plain_words(bot: BriefingBot) -> None:
    """Mentions and markup in a question are just text: the answer quotes only the corpus, never the input."""
    reply = bot.ask("@everyone <!channel> <@U123> **What did Bob Woodward allege?** `x`")
    assert reply.kind == "answer"
    text = render_text(reply)
    assert "@everyone" not in text and "<!channel>" not in text and "<@U123>" not in text


def test_takeaways_for_topic_and_for_unknown_topic(bot: BriefingBot) -> None:
    """/takeaways ceasefire lists cited points; an unknown topic gets a decline with topics it does cover."""
    reply = bot.takeaways("ceasefire")
    assert reply.kind == "takeaways" and reply.title == "Key takeaways: ceasefire"
    assert reply.bullets and all(b.citations for b in reply.bullets)
    missing = bot.takeaways("quantum computing")
    assert missing.kind == "decline" and missing.suggestions


def test_sources_help_and_digest_replies(bot: BriefingBot) -> None:
    """/sources lists every article; /help lists every command; /digest subscribes the console's channel."""
    sources = bot.sources()
    assert len(sources.bullets) == len(ARTICLES)
    help_reply = bot.help()
    assert help_reply.ephemeral
    for command in ("/brief", "/ask", "/takeaways", "/sources", "/digest", "/help"):
        assert command in help_reply.plain_text
    subscribed = bot.digest("subscribe daily 08:00", Conversation("console", "console"))
    assert subscribed.title == "Digest scheduled" and "daily 08:00 (UTC)" in subscribed.plain_text


def test_empty_corpus_gives_a_helpful_notice(tmp_path: Path) -> None:
    """With no articles, /brief explains how to import some instead of failing."""
    empty = tmp_path / "corpus"
    empty.mkdir()
    bot = BriefingBot(BriefingEngine(empty, tmp_path / "data"), StateStore(f"sqlite:///{tmp_path / 'state.db'}"))
    reply = bot.brief()
    assert reply.kind == "notice" and "corpus import" in reply.plain_text
    assert bot.ask("What did Bob Woodward allege?").answered is False
