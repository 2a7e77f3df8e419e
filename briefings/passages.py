"""Passages: the unit that is retrieved and read. A sentence rarely answers alone; its block, heading and lead-in do.

A passage is up to three consecutive sentences of one block (a paragraph or a list item), balanced so a block of
four becomes two and two. It remembers the section heading above it and, for list items, the sentence that
introduces the list ("Russia wants:"), so both can be searched and shown with it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from itertools import groupby

from briefings.models import Passage, Sentence

MAX_PASSAGE_SENTENCES = 3
_LEAD_IN_ENDINGS = (":", "–", "—", "?")


def is_lead_in(sentence: Sentence) -> bool:
    return sentence.block_kind != "heading" and sentence.text.rstrip().endswith(_LEAD_IN_ENDINGS)


def build_passages(sentences: Sequence[Sentence]) -> list[Passage]:
    passages: list[Passage] = []
    heading = -1
    lead_in = -1
    for _, group in groupby(sentences, key=lambda s: s.block):
        block = list(group)
        kind = block[0].block_kind
        if kind == "heading":
            heading = block[0].position
            lead_in = -1
            continue
        if kind != "item":
            lead_in = -1
        chunks = math.ceil(len(block) / MAX_PASSAGE_SENTENCES)
        size = math.ceil(len(block) / chunks)
        for i in range(0, len(block), size):
            part = block[i : i + size]
            passages.append(Passage(part[0].doc_id, part[0].position, part[-1].position + 1, heading, lead_in))
        if kind == "paragraph" and is_lead_in(block[-1]):
            lead_in = block[-1].position
            # "What does Russia want?" then "A whole menu of wins:": the question is part of the list's frame
            before = lead_in - 1
            if before >= 0 and sentences[before].block_kind == "paragraph" and sentences[before].text.endswith("?"):
                lead_in = before
    return passages


def frame(passage: Passage, sentences: Sequence[Sentence]) -> list[Sentence]:
    """The heading and lead-in that give the passage its subject, in reading order."""
    out = [sentences[passage.heading]] if passage.heading >= 0 else []
    if passage.lead_in >= 0:
        for sentence in sentences[passage.lead_in : passage.start]:
            if sentence.block_kind == "item":
                break
            out.append(sentence)
    return out


def passage_text(passage: Passage, sentences: Sequence[Sentence]) -> str:
    """What is embedded and indexed for a passage: its frame, then its own sentences."""
    parts = [s.text.rstrip(" :") for s in frame(passage, sentences)]
    parts.extend(sentences[p].text for p in passage.positions)
    return " ".join(parts)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
