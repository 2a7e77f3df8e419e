"""Cleaning and import: boilerplate goes, every article sentence stays, bad files are named and skipped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from briefings.cleaning import RawLine, clean_lines
from briefings.importer import import_paths
from briefings.loading import ArticleError, load_corpus, parse_article, read_corpus_file

from .conftest import DEFAULT_CORPUS, FIXTURES

RAW = FIXTURES / "raw"
ARTICLE_SENTENCES = [
    "Negotiators from both sides returned to Geneva on Monday for a second round of ceasefire talks.",
    "The first round ended in March without an agreement.",
    "The delegations disagree over the sequencing of prisoner exchanges and the withdrawal of heavy weapons.",
    "Mediators said a draft text had been circulated to both teams.",
    "Officials expect the talks to last at least a week.",
    "A joint statement is planned for Friday.",
    "Observers from three countries will attend.",
]
BOILERPLATE = [
    "1,204 views",
    "Related Articles",
    "Leave a Reply",
    "Your email address will not be published",
    "Back to top",
    "I am a freelance writer",
    "Photo Gallery",
]


def _parse(name: str):  # type: ignore[no-untyped-def]
    path = RAW / name
    return parse_article(path.read_bytes(), str(path), path.suffix)


def test_plain_text_boilerplate_is_dropped_and_every_sentence_kept() -> None:
    """Bylines, view counts, comment prompts, bios, labels and repeated titles go; all article sentences stay."""
    cleaned = _parse("web_article.txt")
    body = "\n".join(b.text for b in cleaned.blocks)
    for sentence in ARTICLE_SENTENCES:
        assert sentence in body
    for junk in BOILERPLATE:
        assert junk not in body
    assert body.count("Ceasefire Talks Resume In Geneva") == 0
    assert cleaned.title == "Ceasefire Talks Resume In Geneva"
    assert cleaned.author == "Jane Doe"
    assert [b.kind for b in cleaned.blocks].count("item") == 2


def test_section_label_with_content_is_kept_as_heading() -> None:
    """A heading followed by text stays; a heading followed by another heading is dropped as an empty label."""
    cleaned = _parse("web_article.txt")
    headings = [b.text for b in cleaned.blocks if b.kind == "heading"]
    assert headings == ["Key Issues", "What Comes Next"]


def test_markdown_front_matter_supplies_metadata() -> None:
    """Markdown front matter gives title, author, url and date; markup is reduced to text."""
    cleaned = _parse("notes.md")
    assert (cleaned.title, cleaned.author, cleaned.url, cleaned.published) == (
        "Sanctions Relief On The Table",
        "Sam Writer",
        "https://example.org/sanctions-relief",
        "2025-03-20",
    )
    texts = [b.text for b in cleaned.blocks]
    assert (
        "Officials discussed easing sanctions on aircraft spare parts. The proposal would cover Boeing parts only."
        in texts
    )
    assert ("item", "Airlines want the restrictions loosened.") in [(b.kind, b.text) for b in cleaned.blocks]


def test_html_main_text_and_metadata() -> None:
    """HTML keeps the article's paragraphs and headings, drops navigation and footer, and reads its metadata."""
    cleaned = _parse("page.html")
    body = "\n".join(b.text for b in cleaned.blocks)
    assert cleaned.title == "Envoy Visits Moscow"
    assert cleaned.url == "https://news.example.com/envoy-visits-moscow"
    assert cleaned.published == "2025-04-02"
    assert "No date was set for a summit between the two leaders." in body
    assert "Home" not in body and "All rights reserved" not in body and "Leave a comment" not in body
    assert ("heading", "Reaction in Kyiv") in [(b.kind, b.text) for b in cleaned.blocks]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("broken.txt", "binary"),
        ("bad_front_matter.md", "not valid YAML"),
        ("only_boilerplate.txt", "no article text"),
    ],
)
def test_unusable_files_raise_an_error_naming_them(name: str, reason: str) -> None:
    """A file that cannot be read or parsed gets an error that names it and says why."""
    with pytest.raises(ArticleError) as info:
        _parse(name)
    assert name in str(info.value) and reason in str(info.value)


def test_hard_wrapped_lines_are_joined_and_short_lines_are_not() -> None:
    """A paragraph wrapped at a fixed width becomes one block; separate one-line paragraphs stay separate."""
    text = (
        "The delegations met for six hours on Tuesday and agreed to\n"
        "continue the talks next week in the same city.\n"
        "A second paragraph starts here and ends here.\n"
    )
    cleaned = parse_article(text.encode(), "wrapped.txt", ".txt")
    assert [b.text for b in cleaned.blocks] == [
        "The delegations met for six hours on Tuesday and agreed to continue the talks next week in the same city.",
        "A second paragraph starts here and ends here.",
    ]


def test_clean_lines_keeps_a_sentence_that_merely_mentions_boilerplate_words() -> None:
    """Only whole boilerplate lines go: an article sentence that mentions comments or views is kept."""
    lines = [RawLine("Title Of The Piece"), RawLine("Officials declined to comment on the views of the envoy.")]
    cleaned = clean_lines(lines)
    assert [b.text for b in cleaned.blocks] == ["Officials declined to comment on the views of the envoy."]


def test_import_is_idempotent_and_replaces_changed_articles(tmp_path: Path) -> None:
    """Re-importing an unchanged file changes nothing; a changed file replaces its earlier version under the same id."""
    corpus = tmp_path / "corpus"
    source = tmp_path / "article.txt"
    source.write_text((RAW / "web_article.txt").read_text())
    first = import_paths([source], corpus)
    assert len(first.added) == 1 and first.ok
    path = corpus / f"{first.added[0]}.md"
    before = path.read_text()
    again = import_paths([source], corpus)
    assert again.unchanged == first.added and not again.added and not again.updated
    assert path.read_text() == before
    source.write_text(source.read_text().replace("at least a week", "at least ten days"))
    changed = import_paths([source], corpus)
    assert changed.updated == first.added
    assert "at least ten days" in path.read_text()
    assert len(list(corpus.glob("*.md"))) == 1


def test_bad_files_fail_alone_and_the_batch_goes_on(tmp_path: Path) -> None:
    """A batch with broken, missing and good files imports the good ones and reports each failure by name."""
    corpus = tmp_path / "corpus"
    report = import_paths(
        [
            RAW / "broken.txt",
            RAW / "notes.md",
            tmp_path / "missing.txt",
            RAW / "only_boilerplate.txt",
            RAW / "page.html",
        ],
        corpus,
    )
    assert sorted(report.added) == ["envoy-visits-moscow", "sanctions-relief-on-the-table"]
    failed = sorted(e.origin for e in report.failed)
    assert failed == sorted([str(RAW / "broken.txt"), str(tmp_path / "missing.txt"), str(RAW / "only_boilerplate.txt")])
    assert len(list(corpus.glob("*.md"))) == 2


def test_corpus_files_round_trip_with_metadata(tmp_path: Path) -> None:
    """An imported document carries id, title, author, url, date, origin and content hash, and reads back the same."""
    corpus = tmp_path / "corpus"
    import_paths([RAW / "notes.md"], corpus)
    article = read_corpus_file(corpus / "sanctions-relief-on-the-table.md")
    assert article.doc_id == "sanctions-relief-on-the-table"
    assert article.author == "Sam Writer" and article.published == "2025-03-20"
    assert article.origin == (RAW / "notes.md").as_posix()
    assert article.content_hash.startswith("sha256:")
    assert "Sanctions were tightened in 2022 after the invasion." in article.text


def test_default_corpus_has_the_five_seed_articles_without_boilerplate() -> None:
    """The committed corpus holds five clean articles: no bios, view counts, comment prompts or duplicated titles."""
    articles = load_corpus(DEFAULT_CORPUS)
    assert len(articles) == 5
    for article in articles:
        body = "\n".join(b.text for b in article.blocks)
        assert not re.search(r"\d+ views", body)
        for junk in ("Leave a Reply", "Back to top", "Related Articles", "pen is mightier", "Required fields"):
            assert junk not in body, (article.doc_id, junk)
        assert article.title not in body
        assert article.origin and article.content_hash
    authors = {a.author for a in articles if a.author}
    assert {"Felix Dubois", "Jhon Lennon", "naveenika"} <= authors


@pytest.mark.parametrize(
    "text",
    [
        # one line holding the whole article, lowercased and tokenised (the REALSumm sources)
        "a couple who lost their homes in the storm have won the lottery . mary ann said they will buy a house .",
        # ordinary prose with no title line: the first paragraph starts on the lead sentence
        "Negotiators returned to Geneva on Monday for a second round of talks. The first round ended in March.\n\n"
        "Officials expect the talks to last at least a week.",
    ],
)
def test_a_plain_text_file_without_a_title_line_keeps_its_first_sentence(tmp_path: Path, text: str) -> None:
    """The title is made from the first sentence, which stays in the article body (and in its summary)."""
    source = tmp_path / "untitled.txt"
    source.write_text(text + "\n")
    report = import_paths([source], tmp_path / "corpus")
    (article,) = load_corpus(tmp_path / "corpus")
    assert report.ok
    first_sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    assert article.blocks[0].text.startswith(first_sentence)
    assert article.title.rstrip("…") and first_sentence.startswith(article.title.rstrip("…").rstrip("."))


def test_the_writer_talking_about_the_text_is_filler_but_a_cited_report_is_not() -> None:
    """'The narrative posits ...' or 'the text suggests ...' is about the article; 'the report says' is news."""
    from briefings.text import filler_reason

    assert filler_reason("The text suggests that the two leaders have spoken many times since March.")
    assert filler_reason("Critics and the author argue that the summit achieved very little of substance.")
    assert filler_reason("The report says unemployment rose to 5% in March, officials said on Monday.") is None


def test_sentences_are_split_the_same_in_parallel_threads() -> None:
    """Two threads splitting different paragraphs at once get what each gets alone (the sentence splitter must
    not mix one thread's text into another's)."""
    import threading

    from briefings.text import split_sentences

    paragraphs = [b.text for a in load_corpus(DEFAULT_CORPUS) for b in a.blocks if len(b.text) > 300][:40]
    alone = [split_sentences(p) for p in paragraphs]
    mixed: list[str] = []

    def split_all() -> None:
        for _ in range(5):
            for paragraph, expected in zip(paragraphs, alone, strict=True):
                if split_sentences(paragraph) != expected:
                    mixed.append(paragraph[:60])

    threads = [threading.Thread(target=split_all) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(paragraphs) >= 10 and mixed == []


def test_words_are_stemmed_the_same_in_parallel_threads() -> None:
    """Four threads stemming the corpus's words at once get the stems one thread gets alone (a shared Snowball
    stemmer keeps the word in hand on the instance: wrong stems, or an IndexError, under concurrent /ask)."""
    import threading

    import snowballstemmer

    from briefings.text import stem, words

    vocabulary = sorted({w for a in load_corpus(DEFAULT_CORPUS) for b in a.blocks for w in words(b.text)})
    reference = snowballstemmer.stemmer("english")
    expected = {w: reference.stemWord(w) for w in vocabulary}
    unstemmed = stem.__wrapped__  # past the cache: every call reaches a stemmer
    wrong: list[str] = []

    def stem_all() -> None:
        try:
            for _ in range(3):
                wrong.extend(w for w in vocabulary if unstemmed(w) != expected[w])
        except IndexError as exc:
            wrong.append(f"IndexError: {exc}")

    threads = [threading.Thread(target=stem_all) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(vocabulary) > 1000 and wrong == []
