"""Slack text in and out of the core: incoming mrkdwn as plain words, and command names in the bot's own texts."""

from __future__ import annotations

import pytest

from bot.adapters.slack import CommandNames
from bot.adapters.slack.incoming import mentions, plain_text, thread_key
from bot.core import BriefingBot, Bullet, Paragraph, Reply


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("<@U0BOT> What did Bob Woodward allege?", "What did Bob Woodward allege?"),
        ("What did <@U0BOT|briefbot> say?", "What did say?"),
        ("ask <@U0ANN|ann> and <@U0BEN>", "ask @ann and @U0BEN"),
        ("news in <#C0NEWS|news> and <#C0OPS>", "news in #news and #C0OPS"),
        ("<!channel> <!here|here> <!everyone>", "@channel @here @everyone"),
        ("<!subteam^S0TEAM|@editors> please", "@editors please"),
        ("<!date^1392734382^{date}|Feb 18, 2014>", "Feb 18, 2014"),
        (
            "see <https://example.com/a?b=1&amp;c=2|the article> or <https://example.com>",
            "see the article or https://example.com",
        ),
        ("&lt;!channel&gt; AT&amp;T 1 &lt; 2", "<!channel> AT&T 1 < 2"),
        ("  spread\nover\tlines  ", "spread over lines"),
        ("", ""),
    ],
)
def test_incoming_mrkdwn_becomes_plain_words(text: str, plain: str) -> None:
    """Mentions, channels, links and entities arrive as their readable text; the bot's own mention is dropped."""
    assert plain_text(text, drop_user="U0BOT") == plain


def test_mentions_detects_the_bot_only() -> None:
    """Only a real <@BOT> mention counts (Slack then also sends app_mention), not the name as plain text."""
    assert mentions("hi <@U0BOT>", "U0BOT") and mentions("hi <@U0BOT|briefbot>", "U0BOT")
    assert not mentions("hi @U0BOT briefbot", "U0BOT") and not mentions("hi <@U0BOT>", None)


def test_thread_keys_name_channel_and_root() -> None:
    """A thread's key is its channel and the root message's ts, as linked in the store."""
    assert thread_key("C0NEWS", "1712.0001") == "slack:C0NEWS:1712.0001"


def test_localize_renames_commands_in_the_bots_own_texts(bot: BriefingBot) -> None:
    """Help, notices, errors and footers name the workspace's commands; words like 'and/or' stay."""
    names = CommandNames("news-")
    help_ = names.localize(bot.help())
    assert "/news-ask <question>: a short cited answer; reply in its thread to follow up" in [
        b.text for b in help_.bullets
    ]
    assert help_.bullets[-1].text.startswith("/news-help:")
    assert (
        names.localize(bot.brief()).footer == "From 5 articles. /news-sources lists them; /news-ask answers questions."
    )
    error = names.localize(bot.error("Try /help, and/or /ask. See https://x.example/brief or /briefing."))
    assert error.paragraphs[0].text == "Try /news-help, and/or /news-ask. See https://x.example/brief or /briefing."


def test_localize_leaves_answers_alone() -> None:
    """Corpus text in answers and takeaways is quoted as it is, even if it happens to contain '/brief'."""
    reply = Reply("answer", paragraphs=(Paragraph("Read /brief here."),), bullets=(Bullet("And /ask."),))
    assert CommandNames("news-").localize(reply) == reply
