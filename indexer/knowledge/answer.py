"""Answering a question from the curated knowledge: which subject it names, which levels, what holds.

A question gets an answer when it names a subject of `sujets.toml` (every word of one of its expressions,
after analysis), asks who holds a competence or whether an obligation applies (a question word such as
« qui », « doit-elle », « compétente », « obligatoire »), and the subject has entries for the levels it
names (or for any level when it names none). Anything else gets no answer: a wrong confident answer is
worse than none. Facts the question gives (a type, « 5 000 habitants », « 60 agents ») are passed to the
rule engine for obligations.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from indexer.knowledge.citations import cite_all
from indexer.knowledge.competences import competence_dict
from indexer.knowledge.load import KnowledgeError, cached_knowledge
from indexer.knowledge.lookup import PassageLookup
from indexer.knowledge.model import (
    CATEGORIES,
    PROFILE_TYPES,
    Competence,
    Knowledge,
    LegalBasis,
    Mechanism,
    Obligation,
    Subject,
    iter_tests,
)
from indexer.knowledge.profile import ObligationResult, Profile, evaluate_obligation
from indexer.knowledge.rules import Outcome, Verdict
from indexer.models import Passage
from indexer.text.acronyms import expand_acronyms
from indexer.text.normalize import analyze, fold
from indexer.text.tagging import Taxonomy, levels_named, load_taxonomy

logger = logging.getLogger("qfq.knowledge")

# Words that make a question ask who holds a competence or whether an obligation applies (folded text).
# Verbs of doing (« publier », « créer », « peut-elle ») are left out: they ask how or whether one may, which
# the entries do not say; « qui » counts as a question word, not as a relative pronoun (« la route qui… »).
_ASKS_WHO = re.compile(
    r"(?:^|[,;:] |\b(?:a|de|par|pour|savoir|et) )qui\b|competen|\bgere\b|\bgerer\b|\bgerent\b|"
    r"\bs'occupe|\ben charge\b|\bcharge de\b|responsab|\brevient\b|\breleve\b|\bexerce|\btransf[ee]r"
)
# Duty words: they ask about a collectivité only when the question names one (« la commune doit-elle… »,
# « quelles collectivités doivent… »); otherwise their subject is a thing or a person (« le PLU doit-il… »,
# « une entreprise doit-elle… »).
_DUTY = re.compile(r"\bdoi(?:t|vent)\b|\bdevoir\b|obligat|\btenue?s?\b|\bsoumise?s?\b")
_ANY_COLLECTIVITY = re.compile(r"\bcollectivites?\b|\bpersonnes publiques\b|\badministrations?\b")
# The curated entries describe the general law: territories with their own regime get no answer from them
# (the Métropole du Grand Paris is a level with its own entries, not one of them).
_OWN_REGIME = re.compile(
    r"ile-de-france|(?<!grand )\bparis\b|outre-mer|\bcorse\b|polynesie|nouvelle-caledonie|mayotte|guyane|martinique|"
    r"guadeloupe|la reunion|saint-martin|saint-barthelemy|saint-pierre-et-miquelon|wallis|alsace|moselle"
)
# Questions on the mechanics of a competence (« selon quelle procédure », « à quelle majorité », « dans quel
# délai », « par quelle délibération », the return of a competence, a withdrawal): the entries say who holds
# it, not how it moves, so a card would answer another question.
_MECHANICS = re.compile(
    r"\bprocedures?\b|\bmajorites?\b|\bquels? delais?\b|\bmodalites\b|\bdeliberations?\b|\bdeliberer\b|"
    r"\bconditions financieres\b|\brestitu|\bse retirer\b|\bretrait\b"
)
# « Quelles compétences exerce une communauté de communes ? »: the list of a level's competences.
_LEVEL_LIST = re.compile(r"\bquel(?:le)?s?\b[^?]*\bcompetences\b|\bcompetences\b[^?]*\bquel(?:le)?s?\b")
_MANDATORY = re.compile(r"\bobligatoires?\b")
_NUMBER = r"(\d{1,3}(?:[\s\u202f\u00a0.]\d{3})+|\d+)"
_POPULATION = re.compile(_NUMBER + r"\s*(?:habitants|hab\.?\b)")
_AGENTS = re.compile(_NUMBER + r"\s*(?:agents|salaries|fonctionnaires|emplois)")
MAX_SUBJECTS = 2
MAX_MECHANISMS = 2


@dataclass(frozen=True)
class MechanismMatch:
    """A mechanism the question names, with the expression found and the levels the question names."""

    mechanism: Mechanism
    phrase: str
    levels: tuple[str, ...] = ()  # groups expanded, e.g. ("communaute-d-agglomeration",)

    def to_dict(self, lookup: PassageLookup | None) -> dict[str, Any]:
        """The API's `mecanismes` item, in French: each basis cited with its excerpt, version date and status,
        those whose article concerns a level the question names first (L5216-5 before L5214-16 for « une
        communauté d'agglomération »)."""
        bases = list(self.mechanism.basis)
        passages: list[dict[str, Any]] = []
        if lookup is not None:
            memo = _ArticleMemo(lookup)
            # Communes are party to every mechanism (they transfer, take back, receive): when the question
            # also names a grouping, the grouping says which articles come first.
            named = set(self.levels) - {"commune"} or set(self.levels)
            if named:

                def concerns(basis: LegalBasis) -> bool:
                    # The chapter heading says which level an article is written for; its wording often
                    # names other levels too (L5214-16 mentions the communautés d'agglomération).
                    parts = memo.passages_of_article(basis.doc_key, basis.article)
                    return any(
                        reason.startswith("titre")
                        for part in parts
                        for level in named & set(part.levels)
                        for reason in part.tag_reasons.get(level, ())
                    )

                bases.sort(key=lambda basis: not concerns(basis))
            passages = [c.to_dict() for c in cite_all(bases, memo)]
        return {
            "id": self.mechanism.id,
            "intitule": self.mechanism.title,
            "resume": self.mechanism.summary,
            "base": [b.ref for b in bases],
            "passages": passages,
            "pourquoi": {"mots": [self.phrase]},
        }


@dataclass(frozen=True)
class SubjectMatch:
    """A subject the question names, with the expression found and its analysed words."""

    subject: Subject
    phrase: str
    tokens: frozenset[str]


@dataclass
class Answer:
    """What the knowledge says about a question: the subjects, the levels, the entries and the verdicts."""

    question: str
    subjects: list[SubjectMatch]
    levels_named: list[str]
    levels: list[str]  # the levels answered for: those named (groups expanded), or every level of the entries
    competences: list[Competence]
    obligations: list[Obligation]
    facts: dict[str, Any] = field(default_factory=dict)
    verdicts: dict[str, ObligationResult] = field(default_factory=dict)

    @property
    def entry_ids(self) -> list[str]:
        return [c.id for c in self.competences] + [o.id for o in self.obligations]

    def to_dict(
        self, knowledge: Knowledge, taxonomy: Taxonomy, lookup: PassageLookup | None
    ) -> dict[str, Any]:
        """The `reponse` block of the API, in French."""
        labels = taxonomy.labels()
        if lookup is not None:
            lookup = _ArticleMemo(lookup)
        # A competence held by several of the levels is shown under each: its citations are found once.
        shown: dict[str, dict] = {}

        def competence(c: Competence) -> dict:
            if c.id not in shown:
                shown[c.id] = _competence(c, knowledge, lookup)
            return shown[c.id]

        by_level = []
        for level in self.levels:
            held = [c for c in self.competences if level in c.levels]
            by_level.append(
                {
                    "niveau": level,
                    "libelle": labels.get(level, level),
                    "competences": [competence(c) for c in held],
                    "categorie": held[0].category if len(held) == 1 else None,
                    "categorie_libelle": CATEGORIES[held[0].category] if len(held) == 1 else None,
                }
            )
        return {
            "type": "obligation" if self.obligations and not self.competences else "competence",
            "sujets": [{"id": m.subject.id, "intitule": m.subject.title} for m in self.subjects],
            "niveaux": by_level if self.competences else [],
            "obligations": [self._obligation(o, knowledge, lookup) for o in self.obligations],
            "pourquoi": {
                "mots": [m.phrase for m in self.subjects],
                "niveaux_reconnus": self.levels_named,
                "faits": self.facts,
            },
        }

    def _obligation(self, obligation: Obligation, knowledge: Knowledge, lookup: PassageLookup | None) -> dict:
        result = self.verdicts.get(obligation.id)
        if result is None:
            citations = cite_all(obligation.basis, lookup) if lookup is not None else []
            result = ObligationResult(obligation, Verdict(Outcome.UNDETERMINED), [], citations)
            data = result.to_dict(knowledge)
            data["statut"] = None  # no facts given: the conditions are shown, no verdict
            data["motifs"] = []
            data["manquants"] = []
        else:
            data = result.to_dict(knowledge)
        data["conditions"] = _condition_text(obligation)
        return data


class _ArticleMemo:
    """A `PassageLookup` that reads each article once (for one answer, whose entries share articles)."""

    def __init__(self, lookup: PassageLookup) -> None:
        self._lookup = lookup
        self._passages: dict[tuple[str, str], list[Passage]] = {}

    def passages_of_article(self, doc_key: str, article: str) -> list[Passage]:
        key = (doc_key, article)
        if key not in self._passages:
            self._passages[key] = self._lookup.passages_of_article(doc_key, article)
        return list(self._passages[key])


def _competence(competence: Competence, knowledge: Knowledge, lookup: PassageLookup | None) -> dict:
    data = competence_dict(competence, knowledge, lookup)
    changes = sorted(competence.changes, key=lambda change: change.date)
    data["dernier_changement"] = (
        data["changements"][competence.changes.index(changes[-1])] if changes else None
    )
    return data


def _condition_text(obligation: Obligation) -> str:
    return " ; ".join(test.text for test in iter_tests(obligation.condition))


@dataclass(frozen=True)
class _Phrase:
    owner: Any  # the Subject or Mechanism the expression names
    text: str
    words: tuple[str, ...]  # analysed words, in order

    @property
    def tokens(self) -> frozenset[str]:
        return frozenset(self.words)


def _contains(words: Sequence[str], phrase: Sequence[str]) -> bool:
    """`phrase` appears in `words` as consecutive analysed words (stop words are already gone)."""
    size = len(phrase)
    return any(tuple(words[i : i + size]) == tuple(phrase) for i in range(len(words) - size + 1))


class _PhraseIndex:
    """The expressions of several entries (subjects, mechanisms), found in a question's analysed words."""

    def __init__(self, entries: Sequence[Subject | Mechanism]) -> None:
        phrases = [_Phrase(entry, text, tuple(analyze(text))) for entry in entries for text in entry.phrases]
        self._phrases = [p for p in phrases if p.words]
        # Positions of the phrases by first word: a question is only checked against the phrases whose
        # first word it contains, in the original order.
        self._by_first_word: dict[str, list[int]] = {}
        for position, phrase in enumerate(self._phrases):
            self._by_first_word.setdefault(phrase.words[0], []).append(position)

    def named(self, words: Sequence[str], limit: int) -> list[_Phrase]:
        """The best expression of each entry the words contain, most specific first.

        An entry whose best expression's words are all inside another's (« eau » inside « eaux pluviales »)
        is left out; at most `limit` are kept.
        """
        best: dict[str, _Phrase] = {}
        positions = sorted(p for word in set(words) for p in self._by_first_word.get(word, ()))
        for phrase in (self._phrases[p] for p in positions):
            if _contains(words, phrase.words):
                current = best.get(phrase.owner.id)
                if current is None or len(phrase.tokens) > len(current.tokens):
                    best[phrase.owner.id] = phrase
        ranked = sorted(best.values(), key=lambda p: (-len(p.tokens), p.owner.id))
        kept = [p for p in ranked if not any(p.tokens < other.tokens for other in ranked)]
        return kept[:limit]


class Answerer:
    """Matches questions to the subjects of one knowledge base (built once, thread-safe: read-only)."""

    def __init__(self, knowledge: Knowledge, taxonomy: Taxonomy) -> None:
        self.knowledge = knowledge
        self.taxonomy = taxonomy
        self._subjects = _PhraseIndex(knowledge.subjects)
        self._mechanisms = _PhraseIndex(knowledge.mechanisms)
        self._competences = {c.id: c for c in knowledge.competences}
        self._obligations = {o.id: o for o in knowledge.obligations}

    def subjects_named(self, question: str) -> list[SubjectMatch]:
        """Subjects whose expression the question contains (its words in a row), most specific first.

        A subject whose best expression's words are all inside another's (« eau » inside « eaux pluviales »)
        is left out; at most `MAX_SUBJECTS` are kept.
        """
        words = analyze(expand_acronyms(question).text)
        return [SubjectMatch(p.owner, p.text, p.tokens) for p in self._subjects.named(words, MAX_SUBJECTS)]

    def mechanisms_named(self, question: str) -> list[MechanismMatch]:
        """Mechanisms whose expression the question contains, most specific first (at most `MAX_MECHANISMS`).

        Unlike subjects they need no question word: how a competence moves is what the question is about
        whenever it names the mechanism.
        """
        if _OWN_REGIME.search(fold(question)):
            return []
        words = analyze(expand_acronyms(question).text)
        levels = tuple(self.levels_of(question)[1])
        return [
            MechanismMatch(p.owner, p.text, levels) for p in self._mechanisms.named(words, MAX_MECHANISMS)
        ]

    def levels_of(self, question: str) -> tuple[list[str], list[str]]:
        """Levels the question names, and the same with groups (`epci-fp`) replaced by their members."""
        named = levels_named(question, self.taxonomy)
        expanded: list[str] = []
        for level in named:
            for member in self.knowledge.groups.get(level, (level,)):
                if member not in expanded:
                    expanded.append(member)
        return named, expanded

    def answer(self, question: str, lookup: PassageLookup | None = None) -> Answer | None:
        """The answer to a question, or None when the knowledge cannot answer it with confidence."""
        folded = fold(question)
        if _OWN_REGIME.search(folded) or _MECHANICS.search(folded):
            return None
        named, levels = self.levels_of(question)
        names_one = bool(levels) or bool(_ANY_COLLECTIVITY.search(folded))
        if not (_ASKS_WHO.search(folded) or (names_one and _DUTY.search(folded))):
            return None
        matches = self.subjects_named(question)
        if not matches:
            return self._level_list(question, folded, named, levels)
        competences: list[Competence] = []
        obligations: list[Obligation] = []
        kept: list[SubjectMatch] = []
        for match in matches:
            found = [self._competences[i] for i in match.subject.competences]
            if levels:
                found = [c for c in found if set(c.levels) & set(levels)]
            duties = [self._obligations[i] for i in match.subject.obligations]
            if found or (duties and (not levels or _concerns_levels(duties, levels, self.knowledge))):
                kept.append(match)
                competences += [c for c in found if c not in competences]
                obligations += [o for o in duties if o not in obligations]
        if not kept:
            return None
        answered = levels or _levels_in_order(competences, self.taxonomy)
        answer = Answer(
            question=question,
            subjects=kept,
            levels_named=named,
            levels=[level for level in answered if any(level in c.levels for c in competences)] or answered,
            competences=competences,
            obligations=obligations,
        )
        if obligations:
            facts = facts_in(folded)
            profile_type = next((level for level in levels if level in PROFILE_TYPES), None)
            if profile_type is not None:
                facts = {"type": profile_type, **facts}
            answer.facts = facts
            if facts:
                profile = Profile(
                    type=profile_type or "", population=facts.get("population"), agents=facts.get("agents")
                )
                for obligation in obligations:
                    verdict, deadlines = evaluate_obligation(obligation, self.knowledge, profile)
                    citations = cite_all(obligation.basis, lookup) if lookup is not None else []
                    answer.verdicts[obligation.id] = ObligationResult(
                        obligation, verdict, deadlines, citations
                    )
        return answer

    def _level_list(self, question: str, folded: str, named: list[str], levels: list[str]) -> Answer | None:
        """« Quelles compétences exerce X ? »: every competence of the named levels (mandatory ones if asked)."""
        if not levels or not _LEVEL_LIST.search(folded):
            return None
        competences = [c for c in self.knowledge.competences if set(c.levels) & set(levels)]
        if _MANDATORY.search(folded):
            competences = [c for c in competences if c.category == "obligatoire"]
        if not competences:
            return None
        subject = Subject(
            id="competences-du-niveau",
            title="Compétences de " + ", ".join(self.taxonomy.labels().get(level, level) for level in named),
            phrases=("compétences",),
            competences=tuple(c.id for c in competences),
        )
        return Answer(
            question=question,
            subjects=[SubjectMatch(subject, "compétences", frozenset())],
            levels_named=named,
            levels=[level for level in levels if any(level in c.levels for c in competences)],
            competences=competences,
            obligations=[],
        )


def _concerns_levels(obligations: Sequence[Obligation], levels: Sequence[str], knowledge: Knowledge) -> bool:
    """An obligation may concern one of the levels: its condition does not rule their type out."""
    for obligation in obligations:
        for level in levels:
            if level not in PROFILE_TYPES:
                continue
            verdict, _ = evaluate_obligation(obligation, knowledge, Profile(type=level))
            if verdict.outcome is not Outcome.DOES_NOT_APPLY:
                return True
    return False


def _levels_in_order(competences: Sequence[Competence], taxonomy: Taxonomy) -> list[str]:
    present = {level for c in competences for level in c.levels}
    return [level for level in taxonomy.level_ids() if level in present]


def _number(text: str) -> int:
    return int(re.sub(r"[\s\u202f\u00a0.]", "", text))


def facts_in(folded: str) -> dict[str, Any]:
    """Population and staff the question states (« de 5 000 habitants », « 60 agents »), on folded text."""
    facts: dict[str, Any] = {}
    if match := _POPULATION.search(folded):
        facts["population"] = _number(match.group(1))
    if match := _AGENTS.search(folded):
        facts["agents"] = _number(match.group(1))
    return facts


def curated_answerer() -> Answerer | None:
    """The answerer of `corpus/knowledge/` (read once per process), or None when the knowledge is invalid.

    The search still answers with passages then; the problem is logged.
    """
    try:
        return _curated_answerer()
    except KnowledgeError as exc:
        logger.error("Connaissances invalides : pas de réponses dans la recherche. %s", exc.message)
        return None


@lru_cache(maxsize=1)
def _curated_answerer() -> Answerer:
    return Answerer(cached_knowledge(), load_taxonomy())
