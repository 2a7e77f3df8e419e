"""Who argues what: attributed views, sorted into the two sides of a question.

A view is a sentence that attributes a stance to someone ("Critics contended that ...", "Supporters praised ...",
"Some observers saw it as a pragmatic attempt ..., while others viewed it as a risky gambit"). Its side comes from
who holds it (critics, opponents; supporters, allies), then from the stance verb (warned, condemned; praised,
welcomed), then from the evaluative words of its clause (risky, undermine; pragmatic, breakthrough), the first
of which counts twice: it is usually what the view calls the thing. These are
general English words of stance, not of any one story. A sentence that sets two views against each other ("...,
while others ...") gives each clause its own side.
"""

from __future__ import annotations

import re

from briefings.text import terms

_WORD = re.compile(r"[a-z]+")
_HOLDER = re.compile(
    r"(?:\b(?i:critics?|opponents?|skeptics?|sceptics?|detractors?|supporters?|proponents?|backers?|defenders?|"
    r"advocates?|observers?|analysts?|experts?|officials?|commentators?|lawmakers?|diplomats?|governments?|some|"
    r"others|many)\b[^.;]{0,60}?|(?P<name>\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+){0,2}\s+(?:\w+\s+){0,2}?))\b(?:said|says|say|argued?|argues|contend(?:ed|s)?|warn(?:ed|s)?|claim(?:ed|s)?|insist(?:ed|s)?|"
    r"believe[sd]?|praised?|praises|criticized?|criticised?|criticizes|called|viewed|view|saw|see|sees|described|"
    r"accused|welcomed?|condemned?|dismissed?|hailed?|questioned?|suggested?|maintain(?:ed|s)?|expressed|"
    r"stated|defended?|applauded?|endorsed?|rejected?|denounced?|fear(?:ed|s)?)\b"
)
_CRITIC_HOLDERS = frozenset(
    [
        "critic",
        "critics",
        "opponent",
        "opponents",
        "skeptic",
        "skeptics",
        "sceptic",
        "sceptics",
        "detractor",
        "detractors",
    ]
)
_SUPPORT_HOLDERS = frozenset(
    [
        "supporter",
        "supporters",
        "proponent",
        "proponents",
        "backer",
        "backers",
        "defender",
        "defenders",
        "advocate",
        "advocates",
    ]
)
_CRITIC_VERBS = frozenset(
    [
        "warn",
        "warned",
        "warns",
        "criticize",
        "criticized",
        "criticised",
        "criticizes",
        "accused",
        "condemn",
        "condemned",
        "dismiss",
        "dismissed",
        "denounce",
        "denounced",
        "reject",
        "rejected",
        "fear",
        "feared",
        "fears",
        "questioned",
        "question",
    ]
)
_SUPPORT_VERBS = frozenset(
    [
        "praise",
        "praised",
        "praises",
        "welcome",
        "welcomed",
        "hail",
        "hailed",
        "applaud",
        "applauded",
        "endorse",
        "endorsed",
        "defend",
        "defended",
    ]
)
_NEGATIVE = frozenset(
    [
        "risk",
        "risky",
        "risks",
        "dangerous",
        "danger",
        "gamble",
        "gambit",
        "undermine",
        "undermines",
        "undermined",
        "embolden",
        "emboldens",
        "emboldened",
        "erode",
        "erodes",
        "eroded",
        "erosion",
        "threat",
        "threatens",
        "threaten",
        "concern",
        "concerns",
        "concerned",
        "worry",
        "worried",
        "fail",
        "failed",
        "failure",
        "naive",
        "reckless",
        "weaken",
        "weakens",
        "weakened",
        "weakening",
        "damage",
        "damaging",
        "harm",
        "harmful",
        "costly",
        "capitulation",
        "appeasement",
        "betrayal",
        "betray",
        "mistake",
        "wrong",
        "flawed",
        "alarming",
        "alarm",
        "disastrous",
        "disaster",
        "undercut",
        "strain",
        "strained",
        "isolate",
        "isolated",
        "chaos",
        "instability",
        "unpredictable",
        "illegitimate",
        "crazy",
    ]
)
_POSITIVE = frozenset(
    [
        "pragmatic",
        "practical",
        "success",
        "successful",
        "successes",
        "breakthrough",
        "benefit",
        "benefits",
        "beneficial",
        "opportunity",
        "opportunities",
        "progress",
        "effective",
        "sensible",
        "wise",
        "strength",
        "strong",
        "stable",
        "stability",
        "stabilize",
        "peace",
        "peaceful",
        "constructive",
        "positive",
        "productive",
        "promising",
        "welcome",
        "valuable",
        "achievement",
        "achievements",
        "bold",
        "courageous",
        "reasonable",
        "realistic",
    ]
)
_CONTRAST = re.compile(r",\s*(?:while|whereas|but)\s+|;\s*|\s+whereas\s+")

SUPPORTIVE, CRITICAL = "supportive", "critical"


def is_view(text: str, principals: frozenset[str] = frozenset()) -> bool:
    """The sentence attributes a stance to someone other than the story's principals.

    `principals` are the stemmed names the corpus is about (its most widespread names): what they say or want is
    their position in the story, reported as news, not a view of it from a supporter or a critic. A holder named
    by a capitalised word must be a name: "In this view" holds nothing."""
    start = 0
    while (found := _HOLDER.search(text, start)) is not None:
        name = found.group("name")
        if not name:
            return True
        stems = terms(name)
        # a capitalised function word opening the sentence ("In this view ...") is nobody
        if stems and principals.isdisjoint(stems):
            return True
        start = found.start() + 1  # "Russian officials said": the officials may still hold a view
    return False


def sides(text: str, principals: frozenset[str] = frozenset()) -> set[str]:
    """The sides the sentence's views take: supportive, critical, both (two clauses set against each other), or
    none when it attributes no view (see `is_view`) or its side cannot be told."""
    if not is_view(text, principals):
        return set()
    found = {side for clause in _CONTRAST.split(text) if (side := _clause_side(clause))}
    return found or ({whole} if (whole := _clause_side(text)) else set())


def _clause_side(clause: str) -> str | None:
    words = _WORD.findall(clause.lower())
    present = set(words)
    if present & _CRITIC_HOLDERS and not present & _SUPPORT_HOLDERS:
        return CRITICAL
    if present & _SUPPORT_HOLDERS and not present & _CRITIC_HOLDERS:
        return SUPPORTIVE
    if present & _CRITIC_VERBS and not present & _SUPPORT_VERBS:
        return CRITICAL
    if present & _SUPPORT_VERBS and not present & _CRITIC_VERBS:
        return SUPPORTIVE
    marks = [1 if w in _POSITIVE else -1 for w in words if w in _POSITIVE or w in _NEGATIVE]
    # the first evaluation is what the view calls it ("saw it as a pragmatic attempt to manage a dangerous ..."
    balance = sum(marks) + (marks[0] if marks else 0)
    if balance >= 1:
        return SUPPORTIVE
    if balance <= -1:
        return CRITICAL
    return None
