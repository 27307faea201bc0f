"""The courtesy forms of parliamentary written questions, removed before search.

A written question opens with its author and the minister it is addressed to (« M. X attire l'attention de
Mme la ministre de la cohésion des territoires et des relations avec les collectivités territoriales sur … »)
and closes with a formula (« Il lui demande de bien vouloir préciser … »). Those words say nothing of the
subject but weigh in the search: a ministry's title names « collectivités territoriales », « transition
écologique » or « outre-mer » as loudly as the question itself. Only the forms of the Journal officiel are
recognised; a question without them is returned unchanged.
"""

from __future__ import annotations

import re

_APOSTROPHE = r"['’]\s*"
_AUTHOR = r"(?:M\.|MM\.|Mme|Mmes|Monsieur|Madame)\s+.{0,80}?"
_ADDRESSEE = (
    r"(?:M\.|Mme|Monsieur|Madame)\s+(?:le|la)\s+"
    r"(?:premi(?:er|ère)\s+ministre|ministre|secrétaire\s+d" + _APOSTROPHE + r"[ée]tat|garde\s+des\s+sceaux)"
    r".{0,220}?"
)
_SENTENCE_START = r"(?:^|(?<=[.?!;:])\s*)"

# « M. X attire (appelle) l'attention de M. le ministre … sur », « Mme Y interroge Mme la ministre … sur ».
_OPENING = re.compile(
    _SENTENCE_START
    + _AUTHOR
    + r"\b(?:(?:attire|appelle)\s+(?:à\s+nouveau\s+)?l"
    + _APOSTROPHE
    + r"attention\s+(?:de\s+)?|interroge\s+)"
    + _ADDRESSEE
    + r"\s(?:sur|quant\s+à|à\s+propos\s+d[eu']|au\s+sujet\s+d[eu'])\s*",
    re.IGNORECASE | re.DOTALL,
)
# « M. X demande à M. le ministre … si (de, quelles) … »: the request itself is kept.
_ASKS = re.compile(
    _SENTENCE_START
    + _AUTHOR
    + r"\bdemande\s+à\s+"
    + _ADDRESSEE
    + r"\s(?=si\b|de\b|quel|comment|dans\b|pour\b)",
    re.IGNORECASE | re.DOTALL,
)
# « Il lui demande (donc) de bien vouloir lui préciser », « Elle souhaiterait savoir si », « En conséquence,
# il lui demande quelles … »: the formula goes, the question stays.
_CLOSING = re.compile(
    r"\b(?:en\s+conséquence|par\s+conséquent|aussi|dès\s+lors|dans\s+ces\s+conditions)?\s*,?\s*"
    r"\b(?:il|elle)\s+(?:lui\s+)?"
    r"(?:demande|souhaite|souhaiterait|aimerait|voudrait|prie)\s+"
    r"(?:donc\s+|en\s+conséquence\s+|par\s+conséquent\s+)?"
    r"(?:savoir\s+|connaître\s+)?"
    r"(?:de\s+bien\s+vouloir\s+(?:lui\s+)?"
    r"(?:préciser|indiquer|faire\s+connaître|confirmer|expliquer|clarifier|exposer|apporter)\s+)?",
    re.IGNORECASE,
)
_MIN_LEFT = 12  # characters: below this the question was all formula, and is searched as typed


def strip_formalities(question: str) -> str:
    """The question without the opening and closing forms of a written question.

    Args:
        question: the question as typed.

    Returns:
        The question with the author, the minister addressed and the closing formula removed; the
        question itself when it has none of these forms, or when nothing would be left.
    """
    stripped = _OPENING.sub(" ", question)
    stripped = _ASKS.sub(" ", stripped)
    stripped = _CLOSING.sub(" ", stripped)
    stripped = re.sub(r"\s{2,}", " ", stripped).strip()
    return stripped if len(stripped) >= _MIN_LEFT else question
