"""Words and sentences: segmentation, terms for matching, and the filler test for what may be quoted."""

from __future__ import annotations

import re
import threading
from functools import lru_cache

import pysbd
import snowballstemmer

from briefings.models import Article, Sentence

STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "aren't",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "can't",
        "cannot",
        "could",
        "couldn't",
        "did",
        "didn't",
        "do",
        "does",
        "doesn't",
        "doing",
        "don't",
        "down",
        "during",
        "each",
        "either",
        "else",
        "even",
        "ever",
        "every",
        "few",
        "for",
        "from",
        "further",
        "get",
        "gets",
        "got",
        "had",
        "hadn't",
        "has",
        "hasn't",
        "have",
        "haven't",
        "having",
        "he",
        "he'd",
        "he'll",
        "he's",
        "her",
        "here",
        "here's",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "how's",
        "however",
        "i",
        "i'd",
        "i'll",
        "i'm",
        "i've",
        "if",
        "in",
        "into",
        "is",
        "isn't",
        "it",
        "it's",
        "its",
        "itself",
        "just",
        "let's",
        "like",
        "may",
        "me",
        "might",
        "more",
        "most",
        "much",
        "must",
        "mustn't",
        "my",
        "myself",
        "neither",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "often",
        "on",
        "once",
        "one",
        "only",
        "or",
        "other",
        "ought",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "per",
        "perhaps",
        "quite",
        "rather",
        "really",
        "same",
        "says",
        "said",
        "say",
        "shall",
        "shan't",
        "she",
        "she'd",
        "she'll",
        "she's",
        "should",
        "shouldn't",
        "so",
        "some",
        "such",
        "than",
        "that",
        "that's",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "there's",
        "these",
        "they",
        "they'd",
        "they'll",
        "they're",
        "they've",
        "this",
        "those",
        "though",
        "through",
        "thus",
        "to",
        "too",
        "toward",
        "towards",
        "under",
        "until",
        "up",
        "upon",
        "us",
        "very",
        "was",
        "wasn't",
        "we",
        "we'd",
        "we'll",
        "we're",
        "we've",
        "were",
        "weren't",
        "what",
        "what's",
        "whatever",
        "when",
        "when's",
        "where",
        "where's",
        "whether",
        "which",
        "while",
        "who",
        "who's",
        "whom",
        "whose",
        "why",
        "why's",
        "will",
        "with",
        "within",
        "without",
        "won't",
        "would",
        "wouldn't",
        "yet",
        "you",
        "you'd",
        "you'll",
        "you're",
        "you've",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "tell",
        "told",
        "know",
        "please",
        "thing",
        "things",
        "way",
        "ways",
        "yes",
        "okay",
        "ok",
    ]
)
# Words of a question that ask *for* something rather than *about* something.
QUESTION_WORDS = frozenset(
    [
        "what",
        "when",
        "where",
        "who",
        "whom",
        "whose",
        "which",
        "why",
        "how",
        "did",
        "does",
        "do",
        "is",
        "are",
        "was",
        "were",
        "can",
        "could",
        "should",
        "would",
        "will",
        "tell",
        "explain",
        "describe",
        "give",
        "list",
        "happened",
        "happen",
    ]
)
ANAPHORA = frozenset(
    [
        "it",
        "its",
        "it's",
        "that",
        "this",
        "these",
        "those",
        "he",
        "him",
        "his",
        "she",
        "her",
        "hers",
        "they",
        "them",
        "their",
        "theirs",
        "there",
        "then",
        "such",
        "former",
        "latter",
        "same",
    ]
)

_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")
_US = re.compile(r"\bU\.S\.(?:A\.)?|\bUS\b|\bUSA\b")
# The Snowball stemmer and pysbd's Segmenter both keep the word or text being worked on in the instance (a
# stemmer's `current`, a segmenter's `original_text`), so a shared instance mixes up two threads' input (wrong
# stems and sentences, or an IndexError). Commands run in worker threads: one of each per thread.
_PER_THREAD = threading.local()


def _segmenter() -> pysbd.Segmenter:
    segmenter = getattr(_PER_THREAD, "segmenter", None)
    if segmenter is None:
        segmenter = _PER_THREAD.segmenter = pysbd.Segmenter(language="en", clean=False, char_span=False)
    return segmenter


def _stemmer() -> snowballstemmer.stemmer:
    stemmer = getattr(_PER_THREAD, "stemmer", None)
    if stemmer is None:
        stemmer = _PER_THREAD.stemmer = snowballstemmer.stemmer("english")
    return stemmer


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return str(_stemmer().stemWord(word))


def words(text: str) -> list[str]:
    """Lowercased word tokens; "U.S." and "US" become "usa" so they do not vanish as the pronoun "us"."""
    text = _US.sub(" usa ", text)
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


def terms(text: str) -> list[str]:
    """Stemmed content words: the unit of every match, score and index entry."""
    return [stem(w.removesuffix("'s")) for w in content_words(text)]


RUN_ON_WORDS = 90  # longer than any sentence a reader would write (filler_reason calls it a run-on)
# Tokenised text ("... and laptops . fan site appleinsider has ...") hides sentence ends from the segmenter:
# a run-on is split where a detached full stop is followed by a space.
_TOKENISED_END = re.compile(r"(?<=\s[.!?])\s+(?=\S)")


def split_sentences(text: str) -> list[str]:
    """Sentences of one block, exactly as written (each is a substring of the block)."""
    out: list[str] = []
    for piece in _segmenter().segment(text):
        parts = _TOKENISED_END.split(piece) if len(words(piece)) > RUN_ON_WORDS else [piece]
        out.extend(part.strip() for part in parts if part.strip())
    # pysbd keeps the text, but guard the contract: every sentence must be found verbatim in its block.
    return [s for s in out if s in text] or [text.strip()]


def segment(article: Article) -> list[Sentence]:
    sentences: list[Sentence] = []
    for index, block in enumerate(article.blocks):
        pieces = [block.text] if block.kind == "heading" else split_sentences(block.text)
        for piece in pieces:
            sentences.append(Sentence(article.doc_id, len(sentences), index, block.kind, piece))
    return sentences


# ---------------------------------------------------------------------------------------------- filler
_QUOTED = re.compile(r"‘[^’]*’|``.*?''")
_DOUBLE_QUOTE = re.compile(r"[\"“”]")


def unquoted(text: str) -> str:
    """The text outside double quotation marks. A straight quote after a space opens a quotation and one before a
    space closes it; a quotation opened again before it closed continues (news style for a multi-part quote), and
    one never closed runs to the end."""
    text = _QUOTED.sub(" ", text)
    out: list[str] = []
    inside = False
    start = 0
    for match in _DOUBLE_QUOTE.finditer(text):
        i = match.start()
        before = text[i - 1] if i > 0 else " "
        after = text[i + 1] if i + 1 < len(text) else " "
        opening = match.group() == "“" or (
            match.group() == '"' and (before.isspace() or before in "([—–-") and not after.isspace()
        )
        if opening and not inside:
            out.append(text[start:i])
            inside = True
        elif not opening and inside:
            start = i + 1
            inside = False
    if not inside:
        out.append(text[start:])
    return " ".join(out)
_FILLER_START = re.compile(
    r"^(?:in this (?:article|piece|post|report|section)|this (?:article|piece|post|report|section|essay)\b|"
    r"we(?:'ll| will| shall| need| also| can| must)\b|let(?:'s| us)\b|hey\b|so,|okay\b|well,|man,|look,|"
    r"imagine\b|think (?:about|back|of)\b|it'?s like\b|it’s like\b|don'?t forget\b|don’t forget\b|"
    r"the answers? (?:seems?|is|are)\b|stay tuned|read on|to (?:understand|put it)\b|as (?:citizens|readers)\b|"
    r"ultimately, the (?:future|outcome)|looking ahead,|first off\b|then there'?s\b|then there’s\b|"
    r"then you'?ve got\b|then you’ve got\b|by remaining\b|it is (?:crucial|important|essential|vital) (?:for us |to )"
    r"(?:demand|seek|consider|remember|note|understand|place))",
    re.IGNORECASE,
)
_LABEL = re.compile(r"^[A-Z][\w'’ -]{0,60}:\s+(?=[A-Z])")  # "Demand Transparency: As citizens, ..."
_FILLER_ANYWHERE = re.compile(
    r"\b(?:let(?:'s|’s| us) (?:talk|look|dive|explore|consider|take a look|break)|guys|folks|this article|"
    # the writer talking about the text itself: "the source material suggests", "the narrative posits"
    r"(?:the|this) (?:source(?: material)?|narrative|text|piece|essay|author|writer)s? (?:suggests?|posits?|notes?|"
    r"argues?|claims?|implies|indicates?|asserts?|presents?|explores?|examines?)|"
    r"remains? to be seen|only time will tell|head-scratcher|buckle up|stay tuned|you name it|"
    r"walk in the park|let'?s be real|let’s be real|juicy|deep dive|delve|in a nutshell|it goes without saying)\b",
    re.IGNORECASE,
)
_AUTHOR_VOICE = re.compile(r"\b(?:I|we|We|our|Our|us|me|my|My|you|You|your|Your|you're|You're|you’re|You’re)\b")


@lru_cache(maxsize=20_000)
def filler_reason(sentence: str) -> str | None:
    """Why a sentence must not be quoted as a summary, takeaway or answer; None when it may be.

    Questions, the author talking about the article or to the reader, and hedges that say nothing are
    filler. Headings and fragments are not claims. What people say inside quotation marks is not the author's voice.
    """
    text = sentence.strip()
    n_words = len(words(text))
    if n_words < 6:
        return "fragment"
    if n_words > RUN_ON_WORDS:
        return "run-on"
    if text.endswith(("?", "?”", '?"', "!")):
        return "question or exclamation"
    if text.endswith((":", "–", "—", "-", ",")):
        return "lead-in"
    if _FILLER_START.search(text) or _FILLER_START.search(_LABEL.sub("", text, count=1)):
        return "meta or chatty opening"
    if _FILLER_ANYWHERE.search(text):
        return "meta or chatty phrase"
    if _AUTHOR_VOICE.search(_US.sub(" usa ", unquoted(text))):
        return "author or reader voice"
    return None


def is_quotable(sentence: Sentence) -> bool:
    return sentence.block_kind != "heading" and filler_reason(sentence.text) is None
