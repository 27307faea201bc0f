"""Split long articles into passages at structural boundaries (I., 1°, a)), never mid-sentence."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

TokenCounter = Callable[[str], int]

_LEVEL_1 = re.compile(r"^(?:[IVXL]+|[A-Z])(?:\s?(?:bis|ter|quater))?\s?[.\-–―]+\s?(?:[-–―]\s?)?\S")
_LEVEL_2 = re.compile(r"^\d+°(?:\s?(?:bis|ter|quater))?\s")
_LEVEL_3 = re.compile(r"^[a-z](?:\s?(?:bis|ter))?\)\s")
_SENTENCE_END = re.compile(r"(?<=[.;:!?»])\s+(?=[«A-ZÀ-Ý0-9(])")
HEADER_LABEL_CHARS = 90
GIANT_FACTOR = 1.3  # a sentence above budget x this is cut at word ends
MIN_FILL = 0.4  # a part is cut at a boundary only once it holds this share of the budget


@dataclass(frozen=True)
class Part:
    """One piece of an article: its text and the enclosing structural labels for the header."""

    text: str
    section_label: str = ""  # first words of the enclosing "I. ..." paragraph
    item_label: str = ""  # first words of the enclosing "1° ..." paragraph


def structural_level(paragraph: str) -> int:
    """1 for "I. ―", "II. -" or "A. -", 2 for "1°", 3 for "a)", 0 for an ordinary paragraph."""
    if _LEVEL_1.match(paragraph) and not re.match(r"^[A-Z][a-z]", paragraph):
        return 1
    if _LEVEL_2.match(paragraph):
        return 2
    if _LEVEL_3.match(paragraph):
        return 3
    return 0


def _label(paragraph: str) -> str:
    if len(paragraph) <= HEADER_LABEL_CHARS:
        return paragraph
    cut = paragraph[:HEADER_LABEL_CHARS].rsplit(" ", 1)[0]
    return cut + "…"


def sentences_of(paragraph: str) -> list[str]:
    """Sentences of a paragraph (";" ends one too, as legal enumerations use it)."""
    return _SENTENCE_END.split(paragraph)


def _split_long_paragraph(paragraph: str, budget: int, count: TokenCounter) -> list[str]:
    """Split one over-long paragraph at sentence ends; a sentence far above the budget at word ends."""
    pieces: list[str] = []
    current, size = "", 0
    for sentence in sentences_of(paragraph):
        for chunk in _split_giant_sentence(sentence, budget, count):
            tokens = count(chunk)
            if current and size + tokens > budget:
                pieces.append(current)
                current, size = chunk, tokens
            else:
                current, size = f"{current} {chunk}".strip(), size + tokens
    if current:
        pieces.append(current)
    return pieces


def _split_giant_sentence(sentence: str, budget: int, count: TokenCounter) -> list[str]:
    # Only tables flattened into one "sentence" (PDF pages, annexes) reach this: the model would truncate
    # them anyway, so they are cut at word ends into budget-sized runs.
    total = count(sentence)
    if total <= budget * GIANT_FACTOR:
        return [sentence]
    words = sentence.split(" ")
    runs = max(2, -(-total // budget))
    size = -(-len(words) // runs)
    return [" ".join(words[i : i + size]) for i in range(0, len(words), size)]


def split_article(text: str, budget: int, count: TokenCounter) -> list[Part]:
    """Pack paragraphs into parts of at most `budget` tokens, preferring structural boundaries.

    Args:
        text: article wording, paragraphs separated by blank lines.
        budget: maximum tokens per part (excluding the context header).
        count: token counter of the embedding model.

    Returns:
        One part when the article fits, else parts that each start at a paragraph boundary, carrying the
        labels of the enclosing "I." and "1°" paragraphs.
    """
    if count(text) <= budget:
        return [Part(text)]
    paragraphs: list[tuple[str, int, str, str]] = []  # text, level, section label, item label
    section = item = ""
    for paragraph in text.split("\n\n"):
        level = structural_level(paragraph)
        if level == 1:
            section, item = _label(paragraph), ""
        elif level == 2:
            item = _label(paragraph)
        for piece in (
            _split_long_paragraph(paragraph, budget, count) if count(paragraph) > budget else [paragraph]
        ):
            paragraphs.append((piece, level, section, item))
            level = 0  # continuation pieces of a split paragraph are not boundaries

    tokens = [count(p[0]) for p in paragraphs]
    parts: list[Part] = []
    start = 0
    while start < len(paragraphs):
        end, size = start, 0
        best: tuple[int, int] | None = None  # (boundary strength, index) of the best place to cut
        while end < len(paragraphs) and (end == start or size + tokens[end] <= budget):
            if end > start and paragraphs[end][1] == 1 and size >= budget * MIN_FILL:
                break  # a new "II." section starts its own part once this one is reasonably full
            size += tokens[end] + 1
            end += 1
            if end < len(paragraphs) and size >= budget * MIN_FILL:
                strength = {1: 3, 2: 2, 3: 1}.get(paragraphs[end][1], 0)
                if best is None or strength >= best[0]:
                    best = (strength, end)
        if end < len(paragraphs) and best is not None and best[0] > 0:
            # Cut at the latest strongest boundary (I. > 1° > a)) rather than just where the part fills up.
            end = best[1]
        chunk = paragraphs[start:end]
        first = chunk[0]
        parts.append(
            Part(
                text="\n\n".join(p[0] for p in chunk),
                section_label=first[2] if first[1] != 1 else "",
                item_label=first[3] if first[1] not in (1, 2) else "",
            )
        )
        start = end
    return parts
