"""Which obligations apply to one collectivité: a profile {type, population, agents, date} evaluated by the rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date as Date
from typing import Any

from indexer.errors import QfqError
from indexer.knowledge.citations import Citation, cite_all
from indexer.knowledge.lookup import PassageLookup
from indexer.knowledge.model import BUILTIN_FACTS, PROFILE_TYPES, AllOf, Comparison, Knowledge, Obligation
from indexer.knowledge.rules import Outcome, Verdict, evaluate
from indexer.text.tagging import load_taxonomy


class ProfileError(QfqError):
    """A profile value is unknown or out of range; the message lists what is accepted."""

    code = "profil_invalide"


@dataclass(frozen=True)
class Profile:
    """What is known of a collectivité; None means unknown."""

    type: str
    population: int | None = None
    agents: int | None = None
    date: str = ""  # ISO; today when empty
    criteria: Mapping[str, bool] = field(default_factory=dict)

    def facts(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "population": self.population,
            "agents": self.agents,
            "date": self.date or Date.today().isoformat(),
            **dict(self.criteria),
        }

    def to_dict(self, knowledge: Knowledge) -> dict[str, Any]:
        labels = load_taxonomy().labels()
        return {
            "type": self.type,
            "type_libelle": labels.get(self.type, self.type),
            "population": self.population,
            "agents": self.agents,
            "date": self.date or Date.today().isoformat(),
            "criteres": {
                cid: {"question": knowledge.criteria[cid].question, "reponse": value}
                for cid, value in self.criteria.items()
            },
        }


def make_profile(
    knowledge: Knowledge,
    type: str,
    population: int | None = None,
    agents: int | None = None,
    date: str | None = None,
    criteria: Mapping[str, bool] | None = None,
) -> Profile:
    """Validate the inputs and build a profile.

    Raises:
        ProfileError: unknown type or criterion, negative number, malformed date (French message listing the
            accepted values in `details`).
    """
    if type not in PROFILE_TYPES:
        raise ProfileError(
            f"Type de collectivité inconnu : « {type} ». Types acceptés : {', '.join(PROFILE_TYPES)}.",
            code="type_inconnu",
            details={"champ": "type", "acceptes": list(PROFILE_TYPES)},
        )
    for name, value in (("population", population), ("agents", agents)):
        if value is not None and value < 0:
            raise ProfileError(f"« {name} » doit être un entier positif ou nul.", details={"champ": name})
    if date:
        try:
            date = Date.fromisoformat(date).isoformat()
        except ValueError as exc:
            raise ProfileError(
                f"Date invalide : « {date} » (format attendu AAAA-MM-JJ).", details={"champ": "date"}
            ) from exc
    criteria = dict(criteria or {})
    unknown = sorted(set(criteria) - set(knowledge.criteria))
    if unknown:
        raise ProfileError(
            f"Critère(s) inconnu(s) : {', '.join(unknown)}. Critères acceptés : {', '.join(knowledge.criteria)}.",
            code="critere_inconnu",
            details={"champ": "criteres", "acceptes": list(knowledge.criteria)},
        )
    return Profile(type=type, population=population, agents=agents, date=date or "", criteria=criteria)


@dataclass
class DeadlineStatus:
    """A deadline of an obligation, seen from the profile's date."""

    date: str
    what: str
    concerns: Outcome  # does this deadline concern the profile (its own condition)?
    passed: bool  # the profile's date is after the deadline
    bases: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "objet": self.what,
            "concerne": str(self.concerns),
            "depassee": self.passed,
            "base": self.bases,
        }


@dataclass
class ObligationResult:
    """An obligation evaluated for one profile."""

    obligation: Obligation
    verdict: Verdict
    deadlines: list[DeadlineStatus]
    citations: list[Citation]

    @property
    def outcome(self) -> Outcome:
        return self.verdict.outcome

    def next_deadline(self) -> DeadlineStatus | None:
        upcoming = [d for d in self.deadlines if not d.passed and d.concerns is not Outcome.DOES_NOT_APPLY]
        return upcoming[0] if upcoming else None

    def to_dict(self, knowledge: Knowledge) -> dict[str, Any]:
        ob = self.obligation
        labels = load_taxonomy().labels()
        law = knowledge.laws[ob.law]
        next_deadline = self.next_deadline()
        return {
            "id": ob.id,
            "intitule": ob.title,
            "theme": ob.theme,
            "theme_libelle": labels.get(ob.theme, ob.theme),
            "base": list(dict.fromkeys(b.ref for b in ob.basis)),
            "loi": {"cle": law.key, "nom_court": law.short_name, "numero": law.number, "date": law.date},
            "depuis": ob.since,
            "statut": str(self.outcome),
            "motifs": self.verdict.reasons,
            "manquants": [
                {"donnee": name, "libelle": _fact_label(knowledge, name)} for name in self.verdict.missing
            ],
            "conditions_remplies": self.verdict.held,
            "echeances": [d.to_dict() for d in self.deadlines],
            "prochaine_echeance": next_deadline.to_dict() if next_deadline else None,
            "periodicite": ob.recurrence or None,
            "resume": ob.summary or None,
            "note": ob.note or None,
            "passages": [c.to_dict() for c in self.citations],
        }


def _fact_label(knowledge: Knowledge, name: str) -> str:
    if name in BUILTIN_FACTS:
        return BUILTIN_FACTS[name]
    criterion = knowledge.criteria.get(name)
    return criterion.question if criterion else name


@dataclass
class ProfileResult:
    """The three lists of a profile evaluation."""

    profile: Profile
    applicable: list[ObligationResult]
    not_applicable: list[ObligationResult]
    undetermined: list[ObligationResult]

    def to_dict(self, knowledge: Knowledge) -> dict[str, Any]:
        return {
            "profil": self.profile.to_dict(knowledge),
            "applicables": [r.to_dict(knowledge) for r in self.applicable],
            "non_applicables": [r.to_dict(knowledge) for r in self.not_applicable],
            "indetermines": [r.to_dict(knowledge) for r in self.undetermined],
            "criteres_disponibles": {cid: c.question for cid, c in knowledge.criteria.items()},
        }


def obligation_condition(obligation: Obligation, knowledge: Knowledge) -> AllOf:
    """The obligation's condition, preceded by "the profile's date is on or after the obligation's start"."""
    law = knowledge.laws[obligation.law]
    since = Comparison(
        field="date",
        op=">=",
        value=obligation.since,
        text=f"date >= {obligation.since}",
        reason=f"l'obligation n'existe qu'à partir du {obligation.since} ({law.short_name})",
    )
    return AllOf((since, obligation.condition))


def evaluate_obligation(
    obligation: Obligation, knowledge: Knowledge, profile: Profile
) -> tuple[Verdict, list[DeadlineStatus]]:
    """Verdict of one obligation and the status of its deadlines for the profile."""
    facts = profile.facts()
    labels = {**load_taxonomy().labels(), **{cid: c.question for cid, c in knowledge.criteria.items()}}
    verdict = evaluate(obligation_condition(obligation, knowledge), facts, labels)
    deadlines = []
    for deadline in obligation.deadlines:
        concerns = Outcome.APPLIES
        if deadline.condition is not None:
            concerns = evaluate(deadline.condition, facts, labels).outcome
        deadlines.append(
            DeadlineStatus(
                date=deadline.date,
                what=deadline.what,
                concerns=concerns,
                passed=facts["date"] > deadline.date,
                bases=[b.ref for b in deadline.basis],
            )
        )
    return verdict, deadlines


def evaluate_profile(
    knowledge: Knowledge, profile: Profile, lookup: PassageLookup | None = None
) -> ProfileResult:
    """Sort every obligation into applicable, not applicable (with reasons) and undetermined (missing inputs).

    Args:
        knowledge: the curated knowledge.
        profile: the collectivité.
        lookup: where cited passages come from; no passages when None.

    Returns:
        The three lists, each in the order of `obligations.toml`.
    """
    result = ProfileResult(profile=profile, applicable=[], not_applicable=[], undetermined=[])
    for obligation in knowledge.obligations:
        verdict, deadlines = evaluate_obligation(obligation, knowledge, profile)
        citations = cite_all(obligation.basis, lookup) if lookup is not None else []
        item = ObligationResult(obligation, verdict, deadlines, citations)
        {
            Outcome.APPLIES: result.applicable,
            Outcome.DOES_NOT_APPLY: result.not_applicable,
            Outcome.UNDETERMINED: result.undetermined,
        }[verdict.outcome].append(item)
    return result
