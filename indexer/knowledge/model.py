"""Records of the curated knowledge: laws, legal bases, competences, obligations and their conditions."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# Categories of competence, in display order: id -> French label.
CATEGORIES: dict[str, str] = {
    "obligatoire": "obligatoire",
    "optionnelle-ou-supplementaire": "optionnelle ou supplémentaire",
    "partagee": "partagée",
    "chef-de-file": "chef de file",
    "facultative": "facultative",
}

# Types of collectivité a profile may name (taxonomy level ids).
PROFILE_TYPES: tuple[str, ...] = (
    "commune",
    "communaute-de-communes",
    "communaute-d-agglomeration",
    "communaute-urbaine",
    "metropole",
    "metropole-de-lyon",
    "metropole-du-grand-paris",
    "metropole-aix-marseille-provence",
    "departement",
    "region",
    "syndicat",
)

# Inputs every profile may carry; other inputs are the boolean criteria declared in obligations.toml.
BUILTIN_FACTS: dict[str, str] = {
    "type": "type de collectivité",
    "population": "population (nombre d'habitants)",
    "agents": "effectif (agents en équivalents temps plein)",
    "date": "date d'évaluation",
}

_LAW_NUMBER = re.compile(r"^\d{2,4}-\d+$")


@dataclass(frozen=True)
class Law:
    """A law the knowledge cites, and how amending-text lists write it."""

    key: str
    number: str  # "2015-991"
    date: str  # ISO date of the law
    short_name: str
    title: str
    document: str = ""  # corpus document key when the law is in the corpus
    forms: tuple[str, ...] = ()  # spellings met in version histories, e.g. "Loi n°2015-991 du 7 août 2015"

    def pattern(self) -> re.Pattern[str]:
        """Regex finding this law's number in a citation, not inside a longer number."""
        return law_number_pattern(self.number)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cle": self.key,
            "numero": self.number,
            "date": self.date,
            "nom_court": self.short_name,
            "titre": self.title,
            "document": self.document or None,
        }


def law_number_pattern(number: str) -> re.Pattern[str]:
    """`2015-991` matches "n°2015-991 du" and "n° 2015-991" but neither "2015-9910" nor "12015-991"."""
    if not _LAW_NUMBER.match(number):
        raise ValueError(f"numéro de loi invalide : {number!r}")
    return re.compile(rf"(?<![\d-]){re.escape(number)}(?![\d])")


@dataclass(frozen=True)
class LegalBasis:
    """An article cited as a legal basis: `doc_key/article`, with an optional anchor inside its text."""

    doc_key: str
    article: str
    anchor: str = ""  # words of the article that locate the relevant paragraph, e.g. "7° Eau"

    @property
    def ref(self) -> str:
        return f"{self.doc_key}/{self.article}"


@dataclass(frozen=True)
class Change:
    """A later change of a competence: what happened, when, by which law."""

    date: str
    law: str  # law key
    summary: str
    basis: tuple[LegalBasis, ...] = ()


@dataclass(frozen=True)
class Competence:
    """One competence of one or several levels of government."""

    id: str
    levels: tuple[str, ...]
    title: str
    category: str
    theme: str
    basis: tuple[LegalBasis, ...]
    since: str  # ISO date the competence took its current form for these levels
    law: str  # law key that set it
    summary: str = ""
    note: str = ""
    changes: tuple[Change, ...] = ()
    source_file: str = ""
    out_of_history: str = ""  # why the law named is absent from the history of every cited article


# --- conditions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """An atomic condition such as `population >= 3500` or `type in [commune, region]`."""

    field: str
    op: str  # in, not in, >=, >, <=, <, =, !=
    value: Any  # str, int, bool, or tuple[str, ...] for in / not in
    text: str  # the condition as written in the data
    reason: str = ""  # French reason shown when the condition fails
    basis: LegalBasis | None = None


@dataclass(frozen=True)
class AllOf:
    """Every part must hold."""

    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    """At least one part must hold."""

    parts: tuple[Condition, ...]
    reason: str = ""  # French reason shown when no part holds


Condition = Comparison | AllOf | AnyOf


@dataclass(frozen=True)
class Deadline:
    """A date by which something must be done, possibly for part of the subjects only."""

    date: str
    what: str
    condition: Condition | None = None
    basis: tuple[LegalBasis, ...] = ()


@dataclass(frozen=True)
class Criterion:
    """A yes/no fact some obligations depend on, asked in French."""

    id: str
    question: str


@dataclass(frozen=True)
class Obligation:
    """An obligation with the conditions under which it applies."""

    id: str
    title: str
    theme: str
    basis: tuple[LegalBasis, ...]
    law: str
    since: str
    condition: Condition
    summary: str = ""
    note: str = ""
    deadlines: tuple[Deadline, ...] = ()
    recurrence: str = ""  # e.g. "tous les trois ans"
    out_of_history: str = ""  # why the law named is absent from the history of every cited article


@dataclass(frozen=True)
class Subject:
    """What agents talk about, tied to the curated entries of every level that deal with it.

    `phrases` are the everyday expressions that name it (« ordures ménagères », « la compétence eau »);
    a question names the subject when it contains every word of one of them (after analysis).
    """

    id: str
    title: str
    phrases: tuple[str, ...]
    competences: tuple[str, ...] = ()
    obligations: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mechanism:
    """How a competence moves between communes and their groupings (transfer, return, withdrawal…).

    `summary` says in our words what the cited articles say, and nothing more; a question names the
    mechanism when it contains every word of one of its `phrases` (after analysis), as for `Subject`.
    """

    id: str
    title: str
    summary: str
    phrases: tuple[str, ...]
    basis: tuple[LegalBasis, ...]


@dataclass
class Knowledge:
    """Everything under `corpus/knowledge/`, validated."""

    laws: dict[str, Law]
    competences: list[Competence]
    obligations: list[Obligation]
    criteria: dict[str, Criterion]
    groups: dict[str, tuple[str, ...]]  # e.g. "epci-fp" -> the EPCI types
    subjects: list[Subject] = field(default_factory=list)
    mechanisms: list[Mechanism] = field(default_factory=list)
    folder: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def bases(self) -> list[LegalBasis]:
        """Every legal basis cited anywhere, in order of appearance, without repeats."""
        seen: dict[tuple[str, str, str], LegalBasis] = {}

        def add(bases: Iterable[LegalBasis]) -> None:
            for basis in bases:
                seen.setdefault((basis.doc_key, basis.article, basis.anchor), basis)

        for competence in self.competences:
            add(competence.basis)
            for change in competence.changes:
                add(change.basis)
        for obligation in self.obligations:
            add(obligation.basis)
            for deadline in obligation.deadlines:
                add(deadline.basis)
            add(test.basis for test in iter_tests(obligation.condition) if test.basis is not None)
        for mechanism in self.mechanisms:
            add(mechanism.basis)
        return list(seen.values())

    def competences_of(self, level: str) -> list[Competence]:
        return [c for c in self.competences if level in c.levels]

    def competence(self, competence_id: str) -> Competence:
        return next(c for c in self.competences if c.id == competence_id)

    def obligation(self, obligation_id: str) -> Obligation:
        return next(o for o in self.obligations if o.id == obligation_id)


def iter_tests(condition: Condition) -> list[Comparison]:
    """Atomic tests of a condition tree, depth first."""
    if isinstance(condition, Comparison):
        return [condition]
    return [test for part in condition.parts for test in iter_tests(part)]
