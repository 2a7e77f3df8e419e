"""The engine over the default corpus: grounded citations, no filler, declines off-corpus, follows threads."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from briefings.engine import BriefingEngine, display_text
from briefings.loading import load_corpus
from briefings.models import Answer, Article, Citation, Turn
from briefings.text import filler_reason

from .conftest import DEFAULT_CORPUS
from .grounding import assert_whole_sentences

ARTICLES = {a.doc_id: a for a in load_corpus(DEFAULT_CORPUS)}
OFF_CORPUS = [
    "What is the capital of France?",
    "Who won the 2022 World Cup?",
    "What is Putin's favorite food?",
    "How old is Zelenskyy?",
    "What is the price of oil today?",
    "Who is Elon Musk?",
    "What is the weather in Kyiv?",
]
ON_CORPUS = {
    "When did Trump and Putin speak by phone this year?": "one on February 12 and another on March 18",
    "What did Bob Woodward allege?": "as many as seven direct conversations",
    "Where will U.S. and Russian officials meet?": "Saudi Arabia",
    "What did Witkoff receive in Moscow?": "beautiful portrait of President Trump",
    "Who is Vyacheslav Nikonov?": "a senior Russian lawmaker",
    "What happened at the Helsinki summit?": "Helsinki summit in 2018",
    "What does Russia want?": "Economic relief",
    "Is Ukraine willing to accept a full truce?": "willingness for a full-fledged truce",
}


def assert_grounded(citations: tuple[Citation, ...]) -> None:
    assert citations, "every claim needs a citation"
    for citation in citations:
        article = ARTICLES[citation.doc_id]
        assert_whole_sentences(article, citation.quote)
        assert citation.title == article.title


def assert_not_filler(text: str) -> None:
    assert filler_reason(text) is None, (filler_reason(text), text)
    lowered = text.lower()
    for phrase in ("this article", "guys", "let's", "we will", "leave a reply", "delve", "back to top"):
        assert phrase not in lowered, (phrase, text)
    assert not re.search(r"\d+ views", lowered), text


def test_briefing_shape_and_grounding(engine: BriefingEngine) -> None:
    """The briefing has a cited headline from the articles' text (no article's title), a summary and 5–8 distinct
    cited takeaways, all quoting their articles."""
    briefing = engine.briefing()
    assert briefing.headline not in {a.title for a in ARTICLES.values()}
    assert briefing.headline_citation is not None
    assert_grounded((briefing.headline_citation,))
    assert briefing.headline[1:] in briefing.headline_citation.quote  # a leading connective may be dropped
    assert 1 <= len(briefing.summary) <= 4
    assert 5 <= len(briefing.takeaways) <= 8
    texts = [t.text for t in briefing.takeaways]
    assert len(set(texts)) == len(texts)
    for sentence in briefing.summary:
        assert_grounded((sentence.citation,))
        assert_not_filler(sentence.citation.quote)
    for takeaway in briefing.takeaways:
        assert_grounded(takeaway.citations)
        assert_not_filler(takeaway.citations[0].quote)
    summary_quotes = {s.citation.quote for s in briefing.summary}
    assert not summary_quotes & {t.citations[0].quote for t in briefing.takeaways}
    assert len({t.citations[0].doc_id for t in briefing.takeaways}) >= 3, "takeaways span several articles"


def test_every_source_has_a_short_summary_and_three_to_six_takeaways(engine: BriefingEngine) -> None:
    """Each article gets a 2–4 sentence summary and 3–6 takeaways, all quoted from it and free of filler."""
    sources = engine.sources()
    assert {s.doc_id for s in sources} == set(ARTICLES)
    for source in sources:
        assert 2 <= len(source.summary) <= 4, source.doc_id
        assert 3 <= len(source.takeaways) <= 6, source.doc_id
        for sentence in source.summary:
            assert sentence.citation.doc_id == source.doc_id
            assert_grounded((sentence.citation,))
            assert_not_filler(sentence.text)
        for takeaway in source.takeaways:
            assert takeaway.citations[0].doc_id == source.doc_id
            assert_grounded(takeaway.citations)
            assert_not_filler(takeaway.citations[0].quote)


@pytest.mark.parametrize("question", OFF_CORPUS)
def test_off_corpus_questions_are_declined(engine: BriefingEngine, question: str) -> None:
    """A question the articles do not cover is declined plainly and cites nothing; any suggestion is a corpus topic."""
    answer = engine.ask(question)
    assert not answer.answered, answer.text
    assert not answer.citations
    corpus_text = " ".join(a.text for a in ARTICLES.values())
    for suggestion in answer.suggestions:
        assert suggestion in corpus_text


@pytest.mark.parametrize(("question", "expected"), ON_CORPUS.items())
def test_covered_questions_are_answered_with_citations(engine: BriefingEngine, question: str, expected: str) -> None:
    """A covered question gets a 1–3 sentence answer containing the fact, quoted from its article."""
    answer = engine.ask(question)
    assert answer.answered, answer.text
    assert expected in answer.text
    assert 1 <= len(answer.citations) <= 4
    assert_grounded(answer.citations)


def _turn(answer: Answer) -> Turn:
    """A thread turn as the bot stores it: with the answer's citations."""
    return Turn(answer.question, answer.text, answer.answered, answer.focus, answer.citations)


def test_follow_up_is_read_in_the_context_of_its_thread(engine: BriefingEngine) -> None:
    """'How did the Kremlin respond to that?' after Woodward's claim finds the Kremlin's denial of that report."""
    first = engine.ask("What did Bob Woodward allege?")
    follow = engine.ask("How did the Kremlin respond to that?", [_turn(first)])
    assert follow.answered
    assert "The Kremlin, of course, flatly denied the report." in follow.text
    assert_grounded(follow.citations)


def test_follow_up_without_context_is_not_answered_from_loose_matches(engine: BriefingEngine) -> None:
    """A follow-up the corpus cannot answer ('What is his name?' about an unnamed artist) is declined."""
    first = engine.ask("What did Witkoff receive in Moscow?")
    assert first.answered
    painted = engine.ask("Who painted it?", [_turn(first)])
    name = engine.ask("What is his name?", [_turn(first), _turn(painted)])
    assert not name.answered
    assert not engine.ask("What will they discuss there?", [_turn(first)]).answered


def test_empty_and_oversized_questions_are_rejected(engine: BriefingEngine) -> None:
    """Empty or oversized questions raise a ValueError with a reason instead of searching."""
    with pytest.raises(ValueError, match="empty"):
        engine.ask("   ")
    with pytest.raises(ValueError, match="longer than"):
        engine.ask("why " * 300)


def test_topic_takeaways_are_on_topic_and_unknown_topics_say_so(engine: BriefingEngine) -> None:
    """Takeaways for 'ceasefire' all mention it; a topic the corpus lacks is reported as not covered."""
    result = engine.takeaways("ceasefire")
    assert result.covered and 1 <= len(result.takeaways) <= 6
    for takeaway in result.takeaways:
        assert "ceasefire" in takeaway.citations[0].quote.lower()
        assert_grounded(takeaway.citations)
    missing = engine.takeaways("cryptocurrency regulation")
    assert not missing.covered and not missing.takeaways and missing.suggestions


def test_topics_are_phrases_from_the_corpus(engine: BriefingEngine) -> None:
    """Suggested topics are names and phrases that occur in the articles."""
    topics = engine.topics(25)
    assert 5 <= len(topics) <= 25
    corpus_text = " ".join(a.text for a in ARTICLES.values())
    for topic in topics:
        assert topic in corpus_text or topic.lower() in corpus_text.lower(), topic
    assert "NATO" in topics


def test_only_changed_articles_are_recomputed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Editing one article re-derives and re-embeds it alone; unchanged ones keep their stored results; a start with
    nothing changed derives and embeds nothing; removal is noticed."""
    derived: list[str] = []
    embedded: list[int] = []
    derive, embed = BriefingEngine._derive, BriefingEngine._embed

    def counting_derive(self: BriefingEngine, article: Article) -> None:
        derived.append(article.doc_id)
        derive(self, article)

    def counting_embed(self: BriefingEngine, encoder: Any, batch: dict[str, str]) -> int:
        embedded.append(len(batch))
        return embed(self, encoder, batch)

    monkeypatch.setattr(BriefingEngine, "_derive", counting_derive)
    monkeypatch.setattr(BriefingEngine, "_embed", counting_embed)
    corpus = tmp_path / "corpus"
    shutil.copytree(DEFAULT_CORPUS, corpus)
    first = BriefingEngine(corpus, tmp_path / "data")
    assert sorted(derived) == sorted(ARTICLES) and sum(embedded) > 0
    all_passages = sum(embedded)
    assert len(first.refresh().added) == 0  # built on construction; a second refresh finds nothing to do
    brief_before = first.briefing()
    first.close()

    derived.clear()
    embedded.clear()
    BriefingEngine(corpus, tmp_path / "data").close()  # a restart over the same corpus
    assert derived == [] and sum(embedded) == 0

    target = corpus / "trump-and-putin-will-they-meet.md"
    target.write_text(target.read_text().replace("Helsinki in 2018", "Helsinki in July 2018"))
    (corpus / "trump-putin-inside-the-peace-negotiation-strategy.md").unlink()
    second = BriefingEngine(corpus, tmp_path / "data")
    assert derived == ["trump-and-putin-will-they-meet"]
    assert 0 < sum(embedded) < all_passages / 2  # the edited passage(s), not the corpus
    report = second.refresh()
    assert report.total == 4 and not report.changed  # construction already applied the changes
    assert derived == ["trump-and-putin-will-they-meet"]
    assert "July 2018" in " ".join(s.text for s in second.sentences("trump-and-putin-will-they-meet"))
    brief_after = second.briefing()
    assert brief_after.sources != brief_before.sources
    assert "trump-putin-inside-the-peace-negotiation-strategy" not in {s.doc_id for s in brief_after.sources}


def test_refresh_reports_what_changed(tmp_path: Path) -> None:
    """refresh() names the added, updated and removed articles."""
    corpus = tmp_path / "corpus"
    shutil.copytree(DEFAULT_CORPUS, corpus)
    engine = BriefingEngine(corpus, tmp_path / "data")
    target = corpus / "trump-and-putin-will-they-meet.md"
    target.write_text(target.read_text().replace("Helsinki in 2018", "Helsinki in July 2018"))
    (corpus / "trump-putin-inside-the-peace-negotiation-strategy.md").unlink()
    report = engine.refresh()
    assert report.updated == ("trump-and-putin-will-they-meet",)
    assert report.removed == ("trump-putin-inside-the-peace-negotiation-strategy",)
    assert report.added == ()


def test_the_briefing_is_read_in_a_minute(engine: BriefingEngine) -> None:
    """Headline, summary and takeaways stay within 300 words; at least three takeaways and one summary sentence."""
    briefing = engine.briefing()
    texts = [briefing.headline, *(s.text for s in briefing.summary), *(t.text for t in briefing.takeaways)]
    assert sum(len(t.split()) for t in texts) <= 300
    assert len(briefing.takeaways) >= 3 and briefing.summary


def test_display_text_drops_a_connective_but_keeps_a_phrase_that_starts_like_one() -> None:
    """'However, X' shows as 'X'; 'In contrast to X, ...' and 'First round ...' keep their words."""
    assert display_text("However, the talks failed.") == "The talks failed."
    assert display_text("But the talks failed.") == "The talks failed."
    kept = "In contrast to Trump's claims, the alliance grew."
    assert display_text(kept) == kept
    assert display_text("First round talks ended in March.") == "First round talks ended in March."
