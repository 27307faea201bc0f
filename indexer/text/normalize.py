"""French text normalisation shared by the lexical index, tagging and the fake encoder."""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

import snowballstemmer

# Short French stop-word list (Snowball's, plus elisions); legal words such as "article" are kept.
FRENCH_STOP_WORDS = frozenset(
    [
        "a",
        "au",
        "aux",
        "avec",
        "ce",
        "ces",
        "dans",
        "de",
        "des",
        "du",
        "elle",
        "en",
        "et",
        "eux",
        "il",
        "ils",
        "je",
        "la",
        "le",
        "les",
        "leur",
        "lui",
        "ma",
        "mais",
        "me",
        "meme",
        "mes",
        "moi",
        "mon",
        "ne",
        "nos",
        "notre",
        "nous",
        "on",
        "ou",
        "par",
        "pas",
        "pour",
        "qu",
        "que",
        "qui",
        "sa",
        "se",
        "ses",
        "son",
        "sur",
        "ta",
        "te",
        "tes",
        "toi",
        "ton",
        "tu",
        "un",
        "une",
        "vos",
        "votre",
        "vous",
        "c",
        "d",
        "j",
        "l",
        "m",
        "n",
        "s",
        "t",
        "y",
        "ete",
        "etee",
        "etees",
        "etes",
        "etant",
        "suis",
        "es",
        "est",
        "sommes",
        "etes",
        "sont",
        "serai",
        "seras",
        "sera",
        "serons",
        "serez",
        "seront",
        "serais",
        "serait",
        "serions",
        "seriez",
        "seraient",
        "etais",
        "etait",
        "etions",
        "etiez",
        "etaient",
        "fus",
        "fut",
        "fumes",
        "futes",
        "furent",
        "sois",
        "soit",
        "soyons",
        "soyez",
        "soient",
        "fusse",
        "fusses",
        "fut",
        "fussions",
        "fussiez",
        "fussent",
        "ayant",
        "eu",
        "eue",
        "eues",
        "eus",
        "ai",
        "as",
        "avons",
        "avez",
        "ont",
        "aurai",
        "auras",
        "aura",
        "aurons",
        "aurez",
        "auront",
        "aurais",
        "aurait",
        "aurions",
        "auriez",
        "auraient",
        "avais",
        "avait",
        "avions",
        "aviez",
        "avaient",
        "eut",
        "eumes",
        "eurent",
        "aie",
        "aies",
        "ait",
        "ayons",
        "ayez",
        "aient",
        "eusse",
        "eusses",
        "eussions",
        "eussiez",
        "eussent",
        "ceci",
        "cela",
        "celle",
        "celui",
        "cet",
        "cette",
        "ici",
        "ils",
        "les",
        "leurs",
        "quel",
        "quels",
        "quelle",
        "quelles",
        "sans",
        "soi",
        "dont",
        "lorsque",
    ]
)

_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# Words before folding: letters with their accents (œ, æ and ligatures included), digits, inner hyphens.
_ACCENTED_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
_TYPOGRAPHY = {ord("’"): "'", ord("‘"): "'", ord("\u00a0"): " "}
_ELISION = re.compile(r"\b([cdjlmnst]|qu|jusqu|lorsqu|puisqu)['’]", re.IGNORECASE)


def _fold_char(ch: str) -> str:
    decomposed = unicodedata.normalize("NFKD", ch)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# Precomputed for Latin letters with diacritics and typographic signs: str.translate is ~50x faster
# than decomposing every character.
_FOLD_TABLE = {
    code: _fold_char(chr(code)) for code in range(0x80, 0x250) if _fold_char(chr(code)) != chr(code)
}
_FOLD_TABLE.update({ord("œ"): "oe", ord("æ"): "ae", ord("’"): "'", ord("‘"): "'", ord("\u00a0"): " "})


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


@lru_cache(maxsize=4096)
def _fold_rare(ch: str) -> str:
    return _fold_char(ch)


def fold(text: str) -> str:
    """Lower-case and strip accents: "Établissement" -> "etablissement"."""
    folded = text.lower().translate(_FOLD_TABLE)
    if folded.isascii():
        return folded
    return _NON_ASCII.sub(lambda match: _fold_rare(match.group()), folded)


_STEMMERS = threading.local()


def _stemmer() -> snowballstemmer.stemmer:
    """This thread's Snowball stemmer: the object keeps state between calls, so threads never share one."""
    stemmer = getattr(_STEMMERS, "french", None)
    if stemmer is None:
        stemmer = _STEMMERS.french = snowballstemmer.stemmer("french")
    return stemmer


# Stems the French rules would merge with unrelated words: « collectivités » loses « -ivités » and would
# become « collect », the stem of « collecte ».
_OWN_STEMS = {"collectivite": "collectivit", "collectivites": "collectivit"}


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Snowball French stem of a lower-case word, folded afterwards: "communautés" -> "communaut".

    The French rules look for accented suffixes (« -ité », « -ée », « -és »): they must see the word with
    its accents, so folding comes after stemming. Words with digits ("l5214-16") are only folded.
    """
    folded = fold(word)
    if any(ch.isdigit() for ch in word):
        return folded
    return _OWN_STEMS.get(folded) or fold(str(_stemmer().stemWord(word)))


def words(text: str) -> list[str]:
    """Folded words of `text`, elisions removed ("l'eau" -> "eau"), hyphenated numbers kept whole."""
    return _WORD.findall(fold(_ELISION.sub(" ", text)))


def analyze(text: str) -> list[str]:
    """Tokens for the lexical index: stop words removed, Snowball-stemmed on the accented word, then folded.

    Article numbers such as "L5214-16" survive as one token ("l5214-16").
    """
    tokens: list[str] = []
    for word in _ACCENTED_WORD.findall(_ELISION.sub(" ", text).lower().translate(_TYPOGRAPHY)):
        if fold(word) in FRENCH_STOP_WORDS:
            continue
        if "-" in word and not any(ch.isdigit() for ch in word):
            tokens.extend(stem(part) for part in word.split("-") if fold(part) not in FRENCH_STOP_WORDS)
        else:
            tokens.append(stem(word))
    return tokens


def normalize_whitespace(text: str) -> str:
    """Collapse runs of spaces inside lines and blank-line runs, keep paragraph breaks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ").replace("\u202f", " ")
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paragraphs if p)
