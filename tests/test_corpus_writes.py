"""Safe corpus writes: concurrent imports never lose an article, ids never collide, a killed import leaves nothing
past the next start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from briefings.importer import LOCK_NAME, CorpusBusyError, CorpusWriter, import_paths, tidy_corpus
from briefings.loading import load_corpus, parse_article

SCRIPT = """
import sys
from pathlib import Path
from briefings.importer import import_paths
report = import_paths([sys.argv[1]], Path(sys.argv[2]))
print(len(report.added))
"""


def _batch(folder: Path, label: str, count: int) -> Path:
    folder.mkdir()
    for i in range(count):  # the same titles in both batches, different text
        body = f"Report {i} from the {label} desk. The council met on day {i} and voted on the {label} plan."
        (folder / f"{i}.txt").write_text(f"Council vote number {i}\n\n{body}\n")
    return folder


def test_two_concurrent_imports_of_equal_titles_keep_every_article(tmp_path: Path) -> None:
    """Two processes importing 40 files each whose titles collide: 80 articles, 80 distinct ids, nothing lost."""
    corpus = tmp_path / "corpus"
    batches = [_batch(tmp_path / label, label, 40) for label in ("north", "south")]
    runs = [
        subprocess.Popen([sys.executable, "-c", SCRIPT, str(batch), str(corpus)], stdout=subprocess.PIPE, text=True)
        for batch in batches
    ]
    added = [int(run.communicate(timeout=120)[0].strip()) for run in runs]
    assert added == [40, 40]
    articles = load_corpus(corpus)
    assert len(articles) == 80 and len({a.doc_id for a in articles}) == 80
    texts = {" ".join(b.text for b in a.blocks) for a in articles}
    assert any("north desk" in t for t in texts) and any("south desk" in t for t in texts)


def test_a_killed_import_leaves_no_temp_file_past_the_next_start(tmp_path: Path) -> None:
    """A temp file from a write that never finished is removed by the next start and by the next import."""
    corpus = tmp_path / "corpus"
    import_paths([_batch(tmp_path / "a", "a", 2)], corpus)
    stale = corpus / ".council-vote-number-7.md.k2j3.tmp"
    stale.write_text("half an artic")
    assert tidy_corpus(corpus) == 1 and not stale.exists()
    stale.write_text("half an artic")
    import_paths([_batch(tmp_path / "b", "b", 1)], corpus)
    assert not stale.exists()
    assert sorted(p.name for p in corpus.iterdir() if p.name.startswith(".")) == [LOCK_NAME]


def test_writer_waits_for_the_corpus_instead_of_overwriting(tmp_path: Path) -> None:
    """While one writer holds the corpus another gives up with a clear error after its timeout; nothing written."""
    corpus = tmp_path / "corpus"
    cleaned = parse_article(b"A title\n\nSome text for the article body.", "x.txt", ".txt")
    with CorpusWriter(corpus) as writer:
        writer.write(cleaned, "x.txt")
        with pytest.raises(CorpusBusyError, match="another import"), CorpusWriter(corpus, lock_timeout=0.2) as other:
            other.write(cleaned, "y.txt")
    assert [a.origin for a in load_corpus(corpus)] == ["x.txt"]
