"""What a question asks: its type, its content terms, the names in it and whose thing it asks about.

Follow-ups are resolved here too, against the thread: "And what about Zelensky?" becomes the previous question
about Zelensky; "he" becomes the person the previous question named; "that" brings the previous question along as
context. The result is a full question that is retrieved like any other.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from briefings.models import Turn
from briefings.text import ANAPHORA, QUESTION_WORDS, STOPWORDS, stem, terms, words

MAX_QUESTION_CHARS = 500

_QUESTION_STEMS = frozenset(stem(w) for w in QUESTION_WORDS)
# Verbs that frame a question more than they carry it ("What does Trump *think* of NATO?"): they weigh less.
LIGHT_STEMS = frozenset(
    stem(w)
    for w in (
        "think",
        "say",
        "believe",
        "feel",
        "mean",
        "view",
        "want",
        "happen",
        "stand",
        "see",
        "consider",
        "expect",
        "plan",
        "go",
        "according",
        "report",
        "article",
        "might",
        "make",
        "take",
        "like",
        "kind",
        "type",
        "use",
    )
)
_DEMONYM = re.compile(r"(?:ian|ean|ican|ese|ish)$")  # Russian, European, American, Chinese, British


def is_demonym(name: str) -> bool:
    """A one-word name that is a people's adjective: an article may say "US" where the question says "American"."""
    return " " not in name and bool(_DEMONYM.search(name.lower()))


# "How tall is the hedge?": a measure, answered by a figure with its unit ("how big" is left to the reader: a
# fleet's size is a count, a claim's an amount, a threat's a judgement)
_MEASURE = r"(?:tall|wide|far|deep|heavy|high)"
# "What deficit figure ...", "What guaranteed sum ...", "At what level ...": an amount with its unit
_AUXILIARY = r"(?:did|does|do|was|were|is|are|will|would|can|could|has|have|had|should|might|may)"
_AMOUNT_ASKED = (
    rf"\b(?:what|which)(?: (?!{_AUXILIARY}\b)[\w-]+){{0,3}} (?:figure|sum|amount|total)\b"
    r"|\bat what (?:level|rate|price)\b"
)
_PLACE = r"(?:city|country|town|village|place|road|street|region|venue|location|state|capital|area)"
_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("duration", re.compile(r"^(?:for )?how long\b|\bhow many (?:years|months|weeks|days|hours)\b", re.I)),
    ("age", re.compile(r"\bhow old\b|\bwhat age\b|\bat what age\b", re.I)),
    (
        "count",
        re.compile(
            rf"^(?:\w+ )?how (?:many|much|often|{_MEASURE})\b|\bwhat (?:number|percentage|share)\b|{_AMOUNT_ASKED}",
            re.I,
        ),
    ),
    (
        "when",
        re.compile(
            r"^(?:since |until )?when\b|\b(?:what|which) (?:year|date|month|day|time)\b|\bsince when\b", re.I
        ),
    ),
    (
        "where",
        re.compile(rf"\bwhere\b|^(?:which|what) {_PLACE}\b|\b(?:in|at|on|from|to) (?:which|what) {_PLACE}\b", re.I),
    ),
    ("who", re.compile(r"^(?:who|whom|whose)\b|\bwhat (?:is|was|are|were) (?:\w+['’]s |his |her |their |the )name|"
                       r"\b(?:with|by|to|from) whom\b|\bwhich (?:person|people|official|"
                       r"leader|group|organi[sz]ation|country|countries|company|team|man|woman)\b", re.I)),
    ("why", re.compile(r"^why\b|\bwhat (?:reasons?|motives?|explains?)\b|\bfor what reason\b|\bhow come\b", re.I)),
    ("list", re.compile(r"\b(?:what|which) (?:\w+ ){0,2}(?:\w+s)\b (?:are|were|have|has|did|does|do|could|would|"
                        r"might|may|can|should)\b|\bwhat (?:are|were)\b|\blist\b", re.I)),
)
_NAME = re.compile(r"\b[A-Z][\w'’-]*(?:\s+(?:of\s+|de\s+|von\s+)?[A-Z][\w'’-]*)*")
_POSSESSIVE = re.compile(r"\b([A-Z][\w-]*(?:\s+[A-Z][\w-]*)*)['’]s\s+(?:(?:own|stated|official|main|key)\s+)?(\w+)")
_WHAT_ABOUT = re.compile(r"^(?:and\s+|but\s+|so\s+)?(?:what|how)\s+about\s+(?P<rest>.+?)\??$", re.I)
# "According to reports," / "according to the article on X": where the answer is said to be, not what is asked.
# The attribution is left out of the question's own terms; the article's topic (X) chooses among passages as context.
_ATTRIBUTION = re.compile(
    r"(?:^|,?\s+)according to (?:the |an? |these |those |some |recent |news )?"
    r"(?:reports?|articles?|stor(?:y|ies)|pieces?|coverage|sources?|texts?|corpus)"
    r"(?:\s+(?:on|about|covering|discussing|that (?:covers|discusses))\s+(?P<topic>[^,?]+?))?(?=\s*(?:,|\?|$))",
    re.I,
)
_PERSON_PRONOUNS = frozenset(["he", "him", "his", "she", "her", "hers"])
_LEADING_FILLERS = frozenset(["and", "but", "so", "also", "then", "ok", "okay"])


@dataclass(frozen=True)
class Question:
    text: str  # as asked, whitespace normalised
    search_text: str  # what is retrieved: the question with the thread's references filled in
    kind: str  # who | when | where | count | age | duration | why | list | what
    terms: tuple[str, ...]  # stemmed content terms of the question itself
    context: tuple[str, ...]  # terms borrowed from the thread (they choose, they never answer)
    names: tuple[str, ...]  # names in the question, as written ("Emmanuel Macron")
    owners: tuple[tuple[str, str], ...]  # possessives as (owner term, owned term): ("ukrain", "object")
    follow_up: bool = False
    thread_subject: tuple[str, ...] = ()  # terms of the question a follow-up leans on
    counted: tuple[str, ...] = ()  # what "how many" counts ("landing slots"): the number must come with it
    amount: bool = False  # "how much": money, a share or a quantity with its unit


_COUNTED = re.compile(
    r"\bhow many ((?:[\w'’-]+ ){1,3}?)(?:did|do|does|are|were|is|was|have|has|had|could|would|will|can|might|should|"
    r"in|on|at|of|for|to|from|per)\b",
    re.I,
)


_QUESTION_MODIFIER = re.compile(r"^\w+ly\s+(?=(?:when|where|who|why|how|what|which)\b)", re.I)
_LEADING_CLAUSE = re.compile(r"^[^,?]{1,60},\s+(?=\w)")  # "According to Ferguson, how many ...": the question follows


def question_kind(text: str) -> str:
    leading = _LEADING_CLAUSE.match(text)
    main = text[leading.end() :] if leading and not set(words(leading.group(0))) & QUESTION_WORDS else text
    main = _QUESTION_MODIFIER.sub("", main)  # "Exactly when ...", "Roughly how many ..."
    for kind, pattern in _KINDS:
        if pattern.search(main):
            return kind
    return "what"


_ASKING = re.compile(r"\bhow (?:many|much|long|often|old|far)\b|\bwhat (?:kind|sort|type) of\b", re.I)


def question_terms(text: str) -> list[str]:
    """Stemmed content terms of a question, without the words that only ask ("how many", "what kind of")."""
    lowered = [w for w in words(_ASKING.sub(" ", text)) if w not in QUESTION_WORDS]
    return [t for t in dict.fromkeys(terms(" ".join(lowered))) if t not in _QUESTION_STEMS]


# Prepositions that open a sentence capitalised without being a name ("According to ...", "Since when ...").
_OPENING_WORDS = frozenset(
    ["since", "according", "regarding", "following", "despite", "given", "among", "across", "concerning",
     "considering", "besides", "unlike", "apart", "aside", "overall", "apparently", "reportedly"]
)
_NOT_A_NAME_FIRST = STOPWORDS | QUESTION_WORDS | _OPENING_WORDS  # a question's capitalised first word, dropped


def names_in(text: str) -> list[str]:
    """Capitalised runs, leaving out a sentence's first word when it is an ordinary word."""
    out: list[str] = []
    for match in _NAME.finditer(text):
        name = match.group(0)
        parts = name.split()
        if match.start() == 0 or text[: match.start()].rstrip().endswith((".", "?", "!", ":")):
            while parts and parts[0].lower() in _NOT_A_NAME_FIRST:
                parts = parts[1:]
            following = re.match(r" (\w+)", text[match.end() :])
            if len(parts) == 1 and following and following.group(1).lower() in QUESTION_WORDS:
                parts = []  # "Roughly how many ...", "Exactly when ...": a modifier of the question word
        name = " ".join(parts).removesuffix("'s").removesuffix("’s")
        if name and name.lower() not in STOPWORDS and name.lower() not in QUESTION_WORDS:
            out.append(name)
    return out


def owners_in(text: str) -> list[tuple[str, str]]:
    out = []
    for owner, owned in _POSSESSIVE.findall(text):
        owner_terms = terms(owner)
        owned_terms = terms(owned)
        if owner_terms and owned_terms:
            out.append((owner_terms[-1], owned_terms[0]))
    return out


_REFERENCE = re.compile(r"\b(?:it|he|she|him|her|they|them|that|this|these|those|there)\b(?=\s*(?:[?.!]|$))", re.I)
_PERSONAL = re.compile(r"\b(?:he|she|him|her|his|they|them|their)\b", re.I)


def unresolved_reference(text: str, history: Sequence[Turn]) -> str | None:
    """A word that points back to something ("respond to *that*?", "what did *he* say?") when nothing precedes it:
    no thread, and no name earlier in the question."""
    if history:
        return None
    match = _REFERENCE.search(text)
    if match:
        return match.group(0)
    personal = _PERSONAL.search(text)
    if personal and not question_terms(text[: personal.start()]):
        return personal.group(0)  # nothing before it that it could stand for
    return None


def strip_attribution(text: str) -> tuple[str, str]:
    """(the question without "according to the article on X", X)."""
    match = _ATTRIBUTION.search(text)
    if not match:
        return text, ""
    rest = (text[: match.start()] + text[match.end() :]).strip().lstrip(",").strip()
    return (rest if question_terms(rest) else text), (match.group("topic") or "")


def analyse(text: str, history: Sequence[Turn] = ()) -> Question:
    """The question as the reader needs it, with references to the thread resolved."""
    text = " ".join(text.split())
    asked, topic = strip_attribution(text)
    if asked != text:
        question = analyse(asked, history)
        extra = [t for t in question_terms(topic) if t not in question.terms and t not in question.context]
        return replace(
            question,
            text=text,
            search_text=f"{question.search_text} ({topic})" if topic else question.search_text,
            context=(*question.context, *extra),
            names=tuple(dict.fromkeys([*question.names, *names_in(topic)])),
            owners=tuple(dict.fromkeys([*question.owners, *owners_in(topic)])),
        )
    search_text, context, follow_up = resolve(text, history)
    own = question_terms(search_text if follow_up and _is_what_about(text) else text)
    if follow_up and not _is_what_about(text):
        # a pronoun replaced by a name: the name is the question's own subject now
        own = list(dict.fromkeys([*own, *question_terms(_replace_pronouns(text, history))]))
    return Question(
        text=text,
        search_text=search_text,
        kind=question_kind(search_text if _is_what_about(text) else text),
        terms=tuple(own),
        context=tuple(t for t in context if t not in own),
        names=tuple(dict.fromkeys(names_in(search_text))),
        owners=tuple(owners_in(search_text)),
        follow_up=follow_up,
        thread_subject=tuple(t for t in question_terms(history[-1].question) if t not in own) if context else (),
        counted=tuple(terms(counted.group(1))) if (counted := _COUNTED.search(search_text)) else (),
        amount=bool(re.search(rf"\bhow (?:much|{_MEASURE})\b|{_AMOUNT_ASKED}", search_text, re.I)),
    )


# ---------------------------------------------------------------------------------------------- follow-ups
def _previous(history: Sequence[Turn]) -> Turn | None:
    """The turn a reference points back to: the latest one, answered or not."""
    return history[-1] if history else None


def _is_what_about(text: str) -> bool:
    return bool(_WHAT_ABOUT.match(text))




def _subject(turn: Turn, exclude: str = "") -> str | None:
    """Who "he" or "his" stands for: the first person-like name of the previous question (else of its answer)
    that the new question does not name itself ("his team" in a question that names Trump is not Trump's)."""
    excluded = {w.lower() for w in names_in(exclude) for w in w.split()} if exclude else set()
    for source in (turn.question, turn.answer if turn.answered else ""):
        for name in names_in(source):
            if name.lower() in excluded or is_demonym(name):
                continue
            return name
    return None


def _replace_pronouns(text: str, history: Sequence[Turn]) -> str:
    previous = _previous(history)
    subject = _subject(previous, text) if previous else None
    if not subject:
        return text

    def swap(match: re.Match[str]) -> str:
        return subject + "'s" if match.group(0).lower() in {"his", "hers"} else subject

    return re.sub(r"\b(?:he|him|his|she|her|hers)\b", swap, text, flags=re.I)


def resolve(text: str, history: Sequence[Turn]) -> tuple[str, list[str], bool]:
    """(text to search, context terms, whether the question leans on the thread)."""
    previous = _previous(history)
    if previous is None:
        return text, [], False
    lowered = words(text)
    about = _WHAT_ABOUT.match(text)
    if about:
        new_subject = about.group("rest").strip()
        old_subject = next((n for n in names_in(previous.question) if n.lower() != new_subject.lower()), None)
        if old_subject and re.search(rf"\b{re.escape(new_subject)}\b", previous.question, re.I):
            # "What might Putin hope to gain from Trump?" + "And what about Trump?": the two trade places
            placeholder = "\x00"
            rewritten = re.sub(re.escape(old_subject), placeholder, previous.question, count=1)
            rewritten = re.sub(rf"\b{re.escape(new_subject)}\b", old_subject, rewritten, count=1, flags=re.I)
            rewritten = rewritten.replace(placeholder, new_subject)
        elif old_subject:
            rewritten = re.sub(re.escape(old_subject), new_subject, previous.question, count=1)
        else:
            rewritten = f"{previous.question} {new_subject}"
        return rewritten, [], True
    own = question_terms(text)
    content = [w for w in lowered if w not in _LEADING_FILLERS]
    refers = bool(set(content) & ANAPHORA) or len(own) <= 1
    if not refers:
        return text, [], False
    search = text
    if set(lowered) & _PERSON_PRONOUNS:
        search = _replace_pronouns(text, history)
    context = [*question_terms(previous.question), *(previous.focus if previous.answered else ())]
    return f"{search} ({previous.question})", list(dict.fromkeys(context)), True
