"""Story threads, the briefing built from them, the timeline and perspectives: properties that hold on any corpus."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from briefings import retrieval
from briefings.engine import BriefingEngine, display_text
from briefings.loading import load_corpus
from briefings.models import Citation, Takeaway
from briefings.perspectives import CRITICAL, SUPPORTIVE, sides
from briefings.reader import DANGLING
from briefings.retrieval import Retriever
from briefings.text import terms
from briefings.timeline import find_date

from .grounding import assert_whole_sentences

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT / "corpus"
ARTICLES = {a.doc_id: a for a in load_corpus(DEFAULT_CORPUS)}


def _verbatim(citations: tuple[Citation, ...], articles: dict[str, object] | None = None) -> None:
    known = articles or ARTICLES
    for citation in citations:
        assert_whole_sentences(known[citation.doc_id], citation.quote)  # type: ignore[arg-type]


def _overlap(a: str, b: str) -> float:
    ta, tb = set(terms(a)), set(terms(b))
    return len(ta & tb) / (min(len(ta), len(tb)) or 1)


def test_briefing_points_stand_alone_are_distinct_and_quote_their_articles(engine: BriefingEngine) -> None:
    """No briefing point opens on a dangling reference, no two make the same point, every quote is verbatim."""
    briefing = engine.briefing()
    points = [t.text for t in briefing.takeaways] + [s.text for s in briefing.summary] + [briefing.headline]
    for text in points:
        assert not DANGLING.match(text), text
    for a, b in itertools.combinations(points, 2):
        assert _overlap(a, b) <= 0.5, (a, b)
    assert briefing.headline_citation is not None
    _verbatim((briefing.headline_citation,))
    for takeaway in briefing.takeaways:
        _verbatim(takeaway.citations)
    _verbatim(tuple(s.citation for s in briefing.summary))


def test_briefing_takeaways_carry_names_dates_or_figures(engine: BriefingEngine) -> None:
    """Most briefing takeaways are concrete: they name someone or something, or give a date or a figure."""
    import re

    concrete = [t for t in engine.briefing().takeaways if re.search(r"\d|(?<!^)\b[A-Z][a-z]+", t.text)]
    assert len(concrete) >= len(engine.briefing().takeaways) - 1


def _article(doc_id: str, title: str, paragraphs: list[str]) -> str:
    body = "\n\n".join(paragraphs)
    return f"---\nid: {doc_id}\ntitle: {title}\npublished: 2025-03-20\n---\n\n{body}\n"


_REPORT = [
    "The Harbour Council voted on Tuesday to close the Old Pier to ships after inspectors found cracks in 14 pylons.",
    "Mayor Ilse Brandt said the repairs would cost 2.4 million euros and take until September 2025.",
    "Fishing crews will moor at the North Basin while the pier is closed, the port authority announced.",
]
_OTHER = [
    [
        "The regional rail operator Nordbahn opened a new line between Kessel and Aumark in January 2025.",
        "Trains run every 30 minutes and the trip takes 42 minutes, Nordbahn said.",
        "Commuters praised the line as a breakthrough for the valley's towns.",
        "Critics warned that the fares are too high and risk pricing out students.",
    ],
    [
        "A heat wave pushed temperatures in Aumark to 38 degrees on Monday, the weather service reported.",
        "Hospitals in the region treated 120 people for heat exhaustion over the weekend.",
        "Officials said the city would open cooling centres in five libraries.",
    ],
]


def _corpus(tmp_path: Path, copies: int) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(copies):  # the same report, lightly reworded: near-duplicates
        lead = "" if i == 0 else f"Update {i}: "
        paragraphs = [lead + _REPORT[0], *_REPORT[1:]]
        (corpus / f"pier-{i}.md").write_text(_article(f"pier-{i}", f"Pier closed ({i})", paragraphs))
    for n, paragraphs in enumerate(_OTHER):
        (corpus / f"other-{n}.md").write_text(_article(f"other-{n}", f"Other news {n}", paragraphs))
    return corpus


def test_near_duplicate_articles_are_one_point_with_several_citations(tmp_path: Path) -> None:
    """Five near-identical reports make one briefing point citing several of them, never five takeaways."""
    engine = BriefingEngine(_corpus(tmp_path, 5), tmp_path / "data")
    briefing = engine.briefing()
    points: list[tuple[str, tuple[Citation, ...]]] = [(t.text, t.citations) for t in briefing.takeaways]
    points += [(s.text, s.citations) for s in briefing.summary]
    assert briefing.headline_citation is not None
    points.append((briefing.headline, (briefing.headline_citation,)))
    pier = [(text, cites) for text, cites in points if any(c.doc_id.startswith("pier-") for c in cites[:1])]
    # each of the report's sentences appears at most once, and the report's lead is cited from several copies
    for a, b in itertools.combinations([text for text, _ in pier], 2):
        assert _overlap(a, b) <= 0.5, (a, b)
    assert len(pier) <= len(_REPORT)
    assert max(len({c.doc_id for c in cites}) for _, cites in pier) >= 3
    engine.close()


def test_adding_an_article_groups_only_its_passages(tmp_path: Path) -> None:
    """A new article's passages join existing threads or start new ones; nothing already grouped is regrouped."""
    corpus = _corpus(tmp_path, 2)
    engine = BriefingEngine(corpus, tmp_path / "data")
    before = engine.index.thread_assignments()
    (corpus / "pier-9.md").write_text(_article("pier-9", "Pier closed again", ["Latest: " + _REPORT[0], *_REPORT[1:]]))
    assert engine.refresh().added == ("pier-9",)
    after = engine.index.thread_assignments()
    assert all(after[h] == leader for h, leader in before.items())
    assert len(after) > len(before)
    engine.close()


def test_dates_are_resolved_against_the_article_date() -> None:
    """Absolute dates keep their precision; relative ones resolve against the article's date, or are skipped."""
    published = date(2025, 3, 20)  # a Thursday
    cases = {
        "They spoke on February 12, 2024 by phone.": "2024-02-12",
        "They spoke on February 12 by phone.": "2025-02-12",
        "The summit in Helsinki in 2018 ended badly.": "2018",
        "Talks resumed in March 2022 in Istanbul.": "2022-03",
        "The envoy met him yesterday in Moscow.": "2025-03-19",
        "The envoy met him on Tuesday in Moscow.": "2025-03-18",
        "A deal was reached last month.": "2025-02",
        "One call this year, on March 18, went well.": "2025-03-18",
    }
    for text, expected in cases.items():
        found = find_date(text, published)
        assert found is not None and found.iso() == expected, (text, found)
    assert find_date("The envoy met him yesterday.", None) is None
    assert find_date("The crowd of 2,018 people cheered.", published) is None
    assert find_date("They may 5 times have met.", published) is None


def test_timeline_is_in_date_order_and_cited(tmp_path: Path) -> None:
    """/timeline lists dated events oldest first, each quoting its article verbatim, with the date resolved."""
    corpus = _corpus(tmp_path, 1)
    engine = BriefingEngine(corpus, tmp_path / "data")
    articles = {a.doc_id: a for a in load_corpus(corpus)}
    timeline = engine.timeline()
    dates = [e.date for e in timeline.events]
    assert dates == sorted(dates) and len(dates) >= 3
    assert "2025-03-18" in dates  # "on Tuesday" in an article of Thursday 20 March 2025
    for event in timeline.events:
        _verbatim(event.point.citations, articles)  # type: ignore[arg-type]
    assert not engine.timeline("volcanic eruptions on Mars").covered
    engine.close()


def test_perspectives_show_both_sides_or_say_so(tmp_path: Path) -> None:
    """/perspectives sets supportive and critical views side by side, each cited; one-sided topics are declined."""
    corpus = _corpus(tmp_path, 1)
    engine = BriefingEngine(corpus, tmp_path / "data")
    articles = {a.doc_id: a for a in load_corpus(corpus)}
    views = engine.perspectives()
    assert views.covered and views.supportive and views.critical
    assert any("praised" in t.text for t in views.supportive)
    assert any("warned" in t.text for t in views.critical)
    for takeaway in (*views.supportive, *views.critical):
        _verbatim(takeaway.citations, articles)  # type: ignore[arg-type]
    assert not engine.perspectives("heat exhaustion").covered
    engine.close()


def test_view_sides_come_from_holders_verbs_and_evaluations() -> None:
    """Critics/supporters, warned/praised and the first evaluation decide a view's side; a contrast gives both."""
    assert sides("Critics contended that the deal could embolden further aggression.") == {CRITICAL}
    assert sides("Supporters argued the talks were a breakthrough.") == {SUPPORTIVE}
    both = "Some observers saw it as a pragmatic step, while others viewed it as a risky gambit."
    assert sides(both) == {SUPPORTIVE, CRITICAL}
    assert sides("The summit was held in Helsinki.") == set()
    # the story's own principals state positions, not views of the story; third parties in the sentence still do
    principals = frozenset(terms("Putin Trump"))
    assert sides("President Donald Trump expressed a strong desire to meet.", principals) == set()
    assert sides("President Donald Trump expressed a strong desire to meet.") == {SUPPORTIVE}
    assert sides("Putin allies warned Trump officials said the plan was reckless.", principals) == {CRITICAL}
    assert sides("In this view, the talks would see a breakthrough.") == set()
    assert sides("Former President Donald Trump maintains a strong conviction.", principals) == set()


def test_default_corpus_views_and_timeline_quote_verbatim(engine: BriefingEngine) -> None:
    """On the default corpus both sides are found and every timeline and view quote is in its article."""
    views = engine.perspectives()
    assert views.covered
    points: list[Takeaway] = [*views.supportive, *views.critical, *(e.point for e in engine.timeline().events)]
    for point in points:
        _verbatim(point.citations)
        assert not DANGLING.match(display_text(point.citations[-1].quote)) or point.text


def test_timeline_and_perspectives_commands_on_the_console_and_json_cli(
    bot: object, data_dir: Path, capsys: object
) -> None:
    """/timeline and /perspectives reply with cited bullets; an uncovered topic is declined; the CLI prints JSON."""
    import json

    from bot.cli import main
    from bot.core import BriefingBot

    assert isinstance(bot, BriefingBot)
    timeline = bot.handle("/timeline")
    assert timeline.kind == "takeaways" and timeline.bullets
    assert all(b.citations for b in timeline.bullets) and timeline.bullets[0].text[:4].isdigit()
    views = bot.handle("/perspectives")
    assert any(b.text.startswith("Supportive: ") for b in views.bullets)
    assert any(b.text.startswith("Critical: ") for b in views.bullets)
    assert bot.handle("/perspectives volcanic eruptions on Mars").kind == "decline"
    assert bot.handle("/timeline " + "x" * 300).kind == "error"
    assert main(["--corpus", str(DEFAULT_CORPUS), "--data", str(data_dir), "timeline", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)  # type: ignore[attr-defined]
    assert printed["covered"] and printed["events"][0]["citations"][0]["quote"]
    assert main(["--corpus", str(DEFAULT_CORPUS), "--data", str(data_dir), "perspectives", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)  # type: ignore[attr-defined]
    assert printed["supportive"] and printed["critical"]


def test_reload_after_one_article_reads_only_its_vectors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Adding an article loads its passages' vectors into the existing matrix (same rows, same values as a full
    load where vectors are kept whole; the kept projection where they are reduced); a large change reprojects."""
    corpus = _corpus(tmp_path, 2)
    engine = BriefingEngine(corpus, tmp_path / "data")
    (corpus / "pier-9.md").write_text(_article("pier-9", "Pier closed again", ["Latest: " + _REPORT[0], *_REPORT[1:]]))
    read: list[int] = []
    whole = engine.index.vectors_of_rows
    monkeypatch.setattr(engine.index, "vectors_of_rows", lambda *a: read.append(len(a[2])) or whole(*a))
    engine.refresh()
    _, row_ids, matrix, _ = engine.retriever.snapshot()
    full = Retriever(engine.index, engine.retriever.encoder)
    full.reload()
    _, full_ids, full_matrix, _ = full.snapshot()
    assert read and 0 < read[0] < len(row_ids)  # only the new article's rows were read
    assert np.array_equal(row_ids, full_ids) and np.allclose(matrix, full_matrix)

    # Reduced vectors: a small change keeps the projection, a large one recomputes it.
    monkeypatch.setattr(retrieval, "REDUCE_ABOVE_PASSAGES", 4)
    reduced = Retriever(engine.index, engine.retriever.encoder)
    reduced.reload()
    _, ids_before, _, centred = reduced.snapshot()
    basis = reduced._basis
    assert centred and basis is not None
    (corpus / "pier-10.md").write_text(_article("pier-10", "Pier reopens", [_REPORT[1]]))
    engine.refresh()
    reduced.reload()
    assert reduced._basis is basis and len(reduced.snapshot()[1]) > len(ids_before)
    monkeypatch.setattr(retrieval, "REPROJECT_AFTER_CHURN", 0.0)
    (corpus / "pier-11.md").write_text(_article("pier-11", "Pier again", [_REPORT[2]]))
    engine.refresh()
    reduced.reload()
    assert reduced._basis is not basis
    engine.close()


def test_sources_rebuild_only_changed_articles(tmp_path: Path) -> None:
    """After a change, unchanged articles keep their digest; a retitled article gets a new one."""
    corpus = _corpus(tmp_path, 2)
    engine = BriefingEngine(corpus, tmp_path / "data")
    before = {d.doc_id: d for d in engine.sources()}
    (corpus / "pier-9.md").write_text(_article("pier-9", "Pier closed again", _REPORT))
    first = sorted(before)[0]
    path = corpus / f"{first}.md"
    path.write_text(path.read_text().replace(f"title: {before[first].title}", "title: A new title", 1))
    engine.refresh()
    after = {d.doc_id: d for d in engine.sources()}
    assert set(after) == {*before, "pier-9"}
    assert after[first].title == "A new title"
    assert all(after[d] is before[d] for d in before if d != first)
    engine.close()
