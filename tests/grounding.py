"""What "verbatim" means for a citation, shared by every test that checks one: its quote is whole text of the
cited article as the engine segments it (a sentence, a run of consecutive sentences, or the title), not merely a
substring: a quote cut short or trimmed of its final full stop fails."""

from __future__ import annotations

from functools import cache

from briefings.models import Article
from briefings.text import segment


@cache
def _sentences(article: Article) -> tuple[str, ...]:
    return tuple(s.text for s in segment(article))


def whole_sentences(article: Article, quote: str) -> bool:
    """True when `quote` is the article's title, or one or more consecutive sentences of it, whole."""
    if quote == article.title:
        return True
    sentences = _sentences(article)
    for start, sentence in enumerate(sentences):
        if not quote.startswith(sentence):
            continue
        joined = sentence
        for following in sentences[start + 1 :]:
            if joined == quote or len(joined) >= len(quote):
                break
            joined = f"{joined} {following}"
        if joined == quote:
            return True
    return False


def assert_whole_sentences(article: Article, quote: str) -> None:
    assert whole_sentences(article, quote), f"not whole sentences of {article.doc_id}: {quote!r}"
