"""The reader: from retrieved passages, pick the one that answers what was asked, or decide nothing does.

A passage answers when it is about the question (its meaning is close, and it holds the question's rare terms),
it has the kind of thing asked for (a date for "when", a number for "how many", a cause for "why"), the names
of the question appear in it, and it is about the right party (the question asks for Ukraine's objectives, the
passage states Russia's). The answer is the passage's best sentence with the context that makes it readable:
the sentence before it when it opens on "this" or "they", a list's lead-in and items. Every sentence is cited.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from briefings.models import Citation, Passage, Sentence
from briefings.passages import frame, is_lead_in
from briefings.question import Question, is_demonym
from briefings.retrieval import Hit
from briefings.text import filler_reason, terms

# Scoring a passage: the fused retrieval score plus the reader's evidence.
COVERAGE_WEIGHT = 0.35
ANCHOR_COVERAGE_WEIGHT = 0.2  # the answer sentence's own share of the question's terms
SUBJECT_WEIGHT = 0.08  # the sentence puts the question's subject first among the parties it names
CONTEXT_WEIGHT = 0.15
META_PENALTY = 0.15
TYPE_BONUS = 0.08
MISSING_NAME_PENALTY = 0.3
WRONG_OWNER_PENALTY = 0.25
NEAR_PREVIOUS_BONUS = 0.08
NEAR_PREVIOUS_SENTENCES = 8
SAID_AGAIN_COVERAGE = 0.5  # an already cited sentence answers again only with this much of the question
PASSAGES_READ = 15  # the fused ranking puts the answer in the top 15 (reading 10, 15 or 25 gave the same dev scores)
# The gate: meaning close to the question plus half the share of its weighted terms present must reach
# MIN_CONFIDENCE, with some of its terms present. "When", "how many" and "how long" also need a date or number.
MIN_CONFIDENCE = 0.75
CONFIDENCE_COVERAGE_WEIGHT = 0.5
MIN_COVERAGE = 0.2
MIN_CONTEXT_COVERAGE = 0.2  # a follow-up's passage shares this much of its thread's terms, or sits near its answer
LEXICAL_ONLY_COVERAGE = 0.6  # the gate when no embedding model is installed
MIN_NAMES_FOUND = 1.0  # share of the question's names (people's adjectives aside) its article must mention
STRICT_KINDS = frozenset(["when", "count", "age", "duration", "who", "where"])
SECOND_ARTICLE_MARGIN = 0.06
MAX_LIST_ITEMS = 3  # with its lead-in, a list answer stays within four cited sentences

_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_TYPE_EVIDENCE: dict[str, re.Pattern[str]] = {
    "when": re.compile(
        rf"\b(?:{_MONTH}|(?:1[89]|20)\d\d|yesterday|today|tomorrow|last (?:week|month|year)|this (?:week|month|year)"
        r"|next (?:week|month|year)|ago|since|before|after|earlier|(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day)\b",
        re.I,
    ),
    "count": re.compile(
        r"\b(?!(?:1[89]|20)\d\d\b)\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
        r"fifty|dozens?|hundreds?|thousands?|millions?|billions?|several|few)\b",
        re.I,
    ),
    "age": re.compile(r"\baged? \d+|\b\d+-year-old\b|\b\d+ years? old\b|\bage of \d+|,\s?\d{1,3},", re.I),
    "duration": re.compile(
        r"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|several|many)[- ](?:years?|months?|weeks?|days?|"
        r"hours?|decades?)\b|\bsince\b",
        re.I,
    ),
    "why": re.compile(
        r"\b(?:because|due to|owing to|as a result of|result(?:ed|s)? from|since|so that|in order to|reasons?|"
        r"caus\w+|driven by|given|aim\w* (?:to|at)|to (?:avoid|ensure|protect|prevent|secure|gain)|motiv\w+|"
        r"justif\w+|argu\w+|why|for fear)\b",
        re.I,
    ),
}
_NAME_KINDS = frozenset(["who", "where"])  # answered by a name (a person, a body, a place)
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z][\w'’-]*")  # names, not acronyms like DVD


_QUESTION_START = re.compile(
    r"^(?:what|why|how|who|whom|whose|where|when|which|is|are|was|were|do|does|did|can|could|would|will|should|"
    r"shall|has|have|had|may|might|must|and|but|so|or)\b",
    re.I,
)
MIXED_STATEMENT_WORDS = 15  # a sentence this long that states something before ending on a question


def answer_filler(text: str) -> str | None:
    """filler_reason, except that a long statement with a question tacked on ("Trump, who insists he wants to be
    remembered as a peacemaker, has ... but is his push for peace truly about diplomacy?") may answer, and so may
    a statement with a meta or chatty phrase in it: the reader's gate, not the phrase, decides."""
    reason = filler_reason(text)
    if reason == "meta or chatty phrase":
        return None  # "The source material suggests that ... given the six-month stalemate": the fact is stated
    mixed = not _QUESTION_START.match(text) and len(text.split()) >= MIXED_STATEMENT_WORDS
    if reason == "question or exclamation" and mixed and text.rstrip().endswith("?"):
        return None
    return reason


def asks_for_evidence(kind: str) -> bool:
    return kind in _TYPE_EVIDENCE or kind in _NAME_KINDS


def _fresh_names(question: Question, text: str) -> list[str]:
    """Capitalised words of the text that are not already in the question."""
    asked = {w.lower() for n in question.names for w in n.split()} | set(question.terms)
    return [m for m in _CAPITALISED.findall(text) if m.lower() not in asked and (terms(m) or [""])[0] not in asked]


def has_evidence(question: Question, text: str) -> bool:
    """Whether a sentence holds the kind of thing asked for. For "who" and "where" that is a name the question does
    not already contain; lowercased text hides names, so there it cannot be judged and is not held against."""
    if question.kind in _NAME_KINDS:
        return bool(_fresh_names(question, text)) or text == text.lower()
    if question.kind == "count":
        return _count_evidence(question, text)
    pattern = _TYPE_EVIDENCE.get(question.kind)
    return pattern is None or bool(pattern.search(text))


_NUMBER = re.compile(
    r"^(?:\d[\d,.]*(?:m|bn|k|%)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
    r"fifty|hundreds?|thousands?|millions?|billions?|dozens?|several)$",
    re.I,
)
_AMOUNT = re.compile(
    r"[£$€¥]\s?\d|\d[\d,.]*\s?(?:%|per ?cent|pounds?|dollars?|euros?|dlrs|yen|francs?|marks|mln|million|bn|billion|"
    r"m|k|tonnes?|tons?|barrels?|ft|feet|foot|met(?:re|er)s?|miles?|kilomet(?:re|er)s?|km|kg|lb)\b"
    r"|\b(?:half|(?:one|two|a)[- ](?:third|quarter|fifth|tenth)s?)\b",
    re.I,
)
_TOKEN = re.compile(r"[\w£$€%.,'’-]+")


def _specific(question: Question, text: str) -> bool:
    """A name or a figure that the question does not already contain."""
    if _fresh_names(question, text):
        return True
    asked = set(question.terms)
    return any(_NUMBER.match(t.strip(".,")) and t.strip(".,").lower() not in asked for t in _TOKEN.findall(text))


def _numbers(text: str) -> list[str]:
    """Digit tokens of a question, as the index stores them."""
    return [t for t in terms(text) if t.isdigit()]


def _subject_agreement(question: Question, text: str) -> float:
    """+1 when the question's first-named party leads the sentence among the parties it names, -1 when another
    one does and it is absent, 0 otherwise: "What might Putin hope to gain from Trump?" is about Putin."""
    names = [n for n in question.names if not is_demonym(n)]
    if len(names) < 2:
        return 0.0
    lowered = text.lower()
    first = {n: lowered.find(n.split()[-1].lower()) for n in names}
    found = {n: i for n, i in first.items() if i >= 0}
    if not found:
        return 0.0
    leader = min(found, key=lambda n: found[n])
    if leader == names[0]:
        return 1.0
    return -1.0 if names[0] not in found else 0.0


def _count_evidence(question: Question, text: str) -> bool:
    """A number with what was counted ("eight landing slots"); for "how much", an amount with its unit."""
    if question.amount:
        return bool(_AMOUNT.search(text))
    if not question.counted:
        return bool(_TYPE_EVIDENCE["count"].search(text))
    tokens = [t.strip(".,") for t in _TOKEN.findall(text)]
    wanted = {t[:6] for t in question.counted}
    for i, token in enumerate(tokens):
        if _NUMBER.match(token) and not re.fullmatch(r"(?:1[89]|20)\d\d", token):
            following = terms(" ".join(tokens[i + 1 : i + 5]))
            if any(t[:6] in wanted for t in following):
                return True
    return False


DANGLING = re.compile(
    r"^(?:it|it's|it’s|this|that|these|those|they|he|she|his|her|their|such|the (?:move|decision|same|latter|former)"
    r"|however|but|and|also|instead|still|yet|meanwhile|moreover|furthermore|additionally|in (?:addition|contrast))\b",
    re.I,
)
_POSSESSIVE_IN_TEXT = re.compile(r"\b([A-Z][\w-]*)['’]s\s+(?:(?:own|stated|official|main|key)\s+)?(\w+)")


class Corpus(Protocol):
    """What the reader needs of the corpus: an article's sentences and a citation for one of them."""

    def sentences(self, doc_id: str) -> list[Sentence]: ...

    def sentence_terms(self, doc_id: str) -> list[frozenset[str]]: ...

    def cite(self, sentence: Sentence) -> Citation: ...


@dataclass(frozen=True)
class Reading:
    """The reader's verdict on one passage."""

    hit: Hit
    score: float
    coverage: float
    names_found: float  # share of the question's names found around the passage
    type_ok: bool
    owner_ok: bool
    anchor: Sentence | None
    subject_coverage: float = 1.0  # of a follow-up's thread subject (the previous question's terms)
    near_previous: bool = False
    predicate_coverage: float = 1.0  # of the question's words other than its names ("go on honeymoon")

    @property
    def passage(self) -> Passage:
        return self.hit.passage


@dataclass(frozen=True)
class Verdict:
    answered: bool
    sentences: tuple[Sentence, ...]
    best: Reading | None
    readings: tuple[Reading, ...]


Weights = dict[str, float]


RELATED_PREFIX = 5  # "absent" ~ "absence", "negotiate" ~ "negotiations": a shared start of five letters or more
RELATED_CREDIT = 0.8  # ...that also covers three quarters of the shorter word counts this much of a match


def related(a: str, b: str) -> bool:
    """Two stems of one word family: they share their first five letters and most of the shorter one."""
    if a[:RELATED_PREFIX] != b[:RELATED_PREFIX]:
        return False
    shared = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return shared >= 0.75 * min(len(a), len(b))


def coverage(term_list: Sequence[str], weights: Weights, present: set[str]) -> float:
    """Share of the terms' weight found in `present` (a related word counts RELATED_CREDIT)."""
    total = sum(weights.get(t, 0.0) for t in term_list)
    if not total:
        return 0.0
    starts: dict[str, list[str]] = {}
    got = 0.0
    for t in term_list:
        if t in present:
            got += weights.get(t, 0.0)
        elif len(t) >= RELATED_PREFIX:
            if not starts:
                for p in present:
                    if len(p) >= RELATED_PREFIX:
                        starts.setdefault(p[:RELATED_PREFIX], []).append(p)
            if any(related(t, p) for p in starts.get(t[:RELATED_PREFIX], ())):
                got += RELATED_CREDIT * weights.get(t, 0.0)
    return got / total


def _name_found(name: str, present: set[str]) -> bool:
    name_terms = terms(name)
    if not name_terms:
        return True
    found = sum(1 for t in name_terms if t in present)
    return found * 2 >= len(name_terms)


def _owner_ok(question: Question, text: str) -> bool:
    """False when the passage states another party's thing the question asks of one party."""
    if not question.owners:
        return True
    stated = []
    for owner_text, owned_text in _POSSESSIVE_IN_TEXT.findall(text):
        owner_terms, owned_terms = terms(owner_text), terms(owned_text)
        if owner_terms and owned_terms:
            stated.append((owner_terms[-1], owned_terms[0]))
    for owner, owned in question.owners:
        same_thing = [o for o, n in stated if n == owned]
        if same_thing and owner not in same_thing:
            return False
    return True


class Reader:
    """Scores passages for a question, decides answered or declined, and assembles the cited sentences."""

    def __init__(self, corpus: Corpus, weights: Callable[[Sequence[str]], Weights]) -> None:
        self._corpus = corpus
        self._weights = weights
        self._terms_cache: dict[str, set[str]] = {}

    def read(self, question: Question, hits: Sequence[Hit], previous: Sequence[Citation] = ()) -> Verdict:
        weights = self._weights([*question.terms, *question.context, *question.thread_subject])
        near = self._previous_positions(previous)
        read = (self._reading(question, hit, weights, near) for hit in hits[:PASSAGES_READ])
        readings = [r for r in read if r is not None and r.anchor is not None]
        readings.sort(key=lambda r: -r.score)
        best = next((r for r in readings if self._passes(question, r)), None)
        if best is None:
            return Verdict(False, (), readings[0] if readings else None, tuple(readings))
        chosen = list(self._compose(question, best))
        second = self._second(question, best, readings, chosen)
        if second is not None:
            chosen.extend(self._compose(question, second, brief=True))
        return Verdict(True, tuple(dict.fromkeys(chosen)), best, tuple(readings))

    # ------------------------------------------------------------------------------------------ scoring
    def _terms(self, sentence: Sentence) -> frozenset[str]:
        return self._corpus.sentence_terms(sentence.doc_id)[sentence.position]

    def _article_terms(self, doc_id: str) -> set[str]:
        if doc_id not in self._terms_cache:
            self._terms_cache[doc_id] = set().union(*self._corpus.sentence_terms(doc_id))
        return self._terms_cache[doc_id]

    def _previous_positions(self, previous: Sequence[Citation]) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for citation in previous:
            for sentence in self._corpus.sentences(citation.doc_id):
                if sentence.text in citation.quote or citation.quote in sentence.text:
                    out.setdefault(citation.doc_id, []).append(sentence.position)
        return out

    def _reading(
        self, question: Question, hit: Hit, weights: Weights, near: dict[str, list[int]]
    ) -> Reading | None:
        passage = hit.passage
        sentences = self._corpus.sentences(passage.doc_id)
        # What the passage states: its questions and chatter are not evidence (they are read as frame only)
        body = [sentences[p] for p in passage.positions if answer_filler(sentences[p].text) in {None, "lead-in"}]
        if not body:
            return None
        window = [*frame(passage, sentences), *body]
        if body and body[0].position > 0 and DANGLING.match(body[0].text):
            window.insert(0, sentences[body[0].position - 1])
        text = " ".join(s.text for s in window)
        present: set[str] = set().union(*(self._terms(s) for s in window))
        cov = coverage(question.terms, weights, present)
        score = hit.score + COVERAGE_WEIGHT * cov
        context_cov = coverage(question.context, weights, present) if question.context else 0.0
        score += CONTEXT_WEIGHT * context_cov
        subject_cov = 1.0
        if question.thread_subject:
            # the thread's most specific word ("Witkoff" rather than "Moscow") must be there, or most of them
            key = max(question.thread_subject, key=lambda t: weights.get(t, 0.0))
            subject_cov = coverage(question.thread_subject, weights, present)
            if coverage([key], weights, present) == 0.0:
                subject_cov = min(subject_cov, MIN_CONTEXT_COVERAGE / 2) if subject_cov < 0.5 else subject_cov
        # Names are looked for in the whole article: "Deutsche Telekom's profit" comes from an article about it.
        article_terms = self._article_terms(passage.doc_id)
        names = [n for n in question.names if not is_demonym(n)]
        names_found = sum(_name_found(n, article_terms) for n in names) / len(names) if names else 1.0
        # a year or figure in the question ("in 2016") must be in the article: otherwise it is another event
        if any(number not in article_terms for number in _numbers(question.text)):
            names_found = 0.0
        # The answer may sit just across the passage's edge (a one-sentence lead, then its figures): read the
        # sentences on either side too.
        around = [
            sentences[p]
            for p in (passage.start - 1, *passage.positions, passage.stop)
            if 0 <= p < len(sentences) and sentences[p].block_kind != "heading"
        ]
        type_ok = any(has_evidence(question, s.text) for s in around)
        owner_ok = _owner_ok(question, text)
        score += TYPE_BONUS * type_ok - MISSING_NAME_PENALTY * (1 - names_found) - WRONG_OWNER_PENALTY * (not owner_ok)
        positions = near.get(passage.doc_id, [])
        near_previous = any(abs(p - passage.start) <= NEAR_PREVIOUS_SENTENCES for p in positions)
        score += NEAR_PREVIOUS_BONUS * near_previous
        # a follow-up's answer is something new, not the sentence the thread was just given, unless that sentence
        # is what the follow-up asks about ("What did he say about the agenda?")
        said = set(positions)
        candidates = [
            s
            for s in around
            if s.position not in said or coverage(question.terms, weights, set(self._terms(s))) >= SAID_AGAIN_COVERAGE
        ]
        anchor = self._anchor(question, candidates, weights)
        if anchor is not None:
            score += SUBJECT_WEIGHT * _subject_agreement(question, anchor.text)
            if filler_reason(anchor.text) == "meta or chatty phrase":
                score -= META_PENALTY  # commentary on the source answers only where nothing plainer does
            asked = list(question.terms)
            anchor_terms = set(self._terms(anchor))
            if passage.lead_in >= 0 and anchor.position in passage.positions:  # an item reads with its lead-in
                for sentence in frame(passage, sentences):
                    anchor_terms |= self._terms(sentence)
            score += ANCHOR_COVERAGE_WEIGHT * coverage(asked, weights, anchor_terms)
        name_terms = {t for n in question.names for t in terms(n)}
        predicate = [t for t in question.terms if t not in name_terms]
        answer_terms = present | (set(self._terms(anchor)) if anchor is not None else set())
        predicate_cov = coverage(predicate, weights, answer_terms) if predicate else 1.0
        return Reading(
            hit, score, cov, names_found, type_ok, owner_ok, anchor, subject_cov, near_previous, predicate_cov
        )

    def _anchor(
        self, question: Question, body: Sequence[Sentence], weights: Weights
    ) -> Sentence | None:
        best: tuple[float, int, Sentence] | None = None
        for i, sentence in enumerate(body):
            reason = answer_filler(sentence.text)
            if reason is not None and reason != "lead-in":
                continue
            own = set(self._terms(sentence))
            value = coverage([*question.terms, *question.context], weights, own)
            if asks_for_evidence(question.kind) and has_evidence(question, sentence.text):
                value += 0.3
            if reason == "lead-in":
                value -= 0.2
            candidate = (value, -i, sentence)
            if best is None or candidate[:2] > best[:2]:
                best = candidate
        return best[2] if best else None

    def _passes(self, question: Question, reading: Reading) -> bool:
        if reading.names_found < MIN_NAMES_FOUND:
            return False  # the question's names are mostly missing from the article: it is about something else
        if question.kind in STRICT_KINDS and not reading.type_ok:
            return False
        if reading.predicate_coverage == 0.0:
            return False  # only the names match: the passage is about them, not about what was asked of them
        if question.thread_subject and reading.subject_coverage < MIN_CONTEXT_COVERAGE and not reading.near_previous:
            return False  # a follow-up is answered from its thread's subject, not from loose matches
        hit = reading.hit
        if hit.dense == 0.0:  # no embedding model: words alone decide
            return reading.coverage >= LEXICAL_ONLY_COVERAGE and reading.names_found == 1.0
        confidence = hit.dense + CONFIDENCE_COVERAGE_WEIGHT * reading.coverage
        return reading.coverage >= MIN_COVERAGE and confidence >= MIN_CONFIDENCE

    # ------------------------------------------------------------------------------------------ answer
    def _compose(self, question: Question, reading: Reading, *, brief: bool = False) -> list[Sentence]:
        """The anchor sentence with the context that makes it readable, in reading order."""
        sentences = self._corpus.sentences(reading.passage.doc_id)
        anchor = reading.anchor
        assert anchor is not None
        passage = reading.passage
        picked: list[Sentence] = []
        if is_lead_in(anchor):
            return [anchor, *self._items(sentences, anchor.position)]
        if passage.lead_in >= 0 and not brief:
            lead = frame(passage, sentences)[-1]
            readable = filler_reason(lead.text) in {None, "lead-in"}
            if is_lead_in(lead) and not lead.text.rstrip().endswith("?") and readable:
                picked.append(lead)
            if question.kind in {"list", "why", "what"}:
                return [*picked, *self._items(sentences, passage.lead_in)]
        if DANGLING.match(anchor.text) and anchor.position > 0:
            before = sentences[anchor.position - 1]
            if before.block_kind != "heading" and filler_reason(before.text) in {None, "lead-in"}:
                picked.append(before)
        picked.append(anchor)
        if not brief:
            picked.extend(self._completion(question, reading, sentences, anchor, 3 - len(picked)))
        return sorted(dict.fromkeys(picked), key=lambda s: s.position)

    def _completion(
        self, question: Question, reading: Reading, sentences: Sequence[Sentence], anchor: Sentence, room: int
    ) -> list[Sentence]:
        """Sentences of the passage after the anchor that carry what the anchor lacks: the asked-for date or
        number, the question's missing terms, or the rest of a list or an explanation."""
        out: list[Sentence] = []
        have = set(self._terms(anchor))
        missing = {t for t in question.terms if t not in have}
        has_type = has_evidence(question, anchor.text)
        # an answer wants specifics: when the anchor restates the question in general words, the sentence after it
        # that names a name or a figure the question does not have usually is the answer
        wants_specifics = question.kind in {"what", "list", "which"} and not _specific(question, anchor.text)
        block = anchor.block
        for position in range(anchor.position + 1, max(reading.passage.stop, anchor.position + 2)):
            if position >= len(sentences) or len(out) >= room:
                break
            sentence = sentences[position]
            lacking = not has_type or (wants_specifics and not out)
            if sentence.block != block and (not lacking or position > anchor.position + 1):
                break  # the next paragraph only when the anchor lacks what was asked (a lead, then its figures)
            if sentence.block_kind == "heading" or answer_filler(sentence.text) is not None:
                continue
            own = set(self._terms(sentence))
            supplies_type = not has_type and has_evidence(question, sentence.text)
            supplies_specifics = wants_specifics and _specific(question, sentence.text)
            if question.kind in {"list", "why"} or supplies_type or supplies_specifics or (missing & own):
                out.append(sentence)
                missing -= own
                has_type = has_type or supplies_type
        return out

    @staticmethod
    def _items(sentences: Sequence[Sentence], lead_in: int) -> list[Sentence]:
        """The first sentence of each list item that follows a lead-in."""
        items: list[Sentence] = []
        seen_blocks: set[int] = set()
        for sentence in sentences[lead_in + 1 :]:
            if sentence.block_kind != "item":
                if items or sentence.block_kind == "heading":
                    break
                continue
            if sentence.block in seen_blocks:
                continue
            seen_blocks.add(sentence.block)
            items.append(sentence)
            if len(items) == MAX_LIST_ITEMS:
                break
        return items

    def _second(
        self, question: Question, best: Reading, readings: Sequence[Reading], chosen: Sequence[Sentence]
    ) -> Reading | None:
        """A second article's passage when it answers as well and adds something the first does not say."""
        chosen_terms = set(terms(" ".join(s.text for s in chosen)))
        for reading in readings:
            if reading.passage.doc_id == best.passage.doc_id or reading.anchor is None:
                continue
            if reading.score < best.score - SECOND_ARTICLE_MARGIN:
                break
            if not self._passes(question, reading):
                continue
            anchor_terms = set(self._terms(reading.anchor))
            if len(anchor_terms - chosen_terms) >= 0.5 * max(len(anchor_terms), 1):
                return reading
        return None
