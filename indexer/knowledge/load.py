"""Read and validate `corpus/knowledge/` (laws, competences, obligations); every problem is reported in French."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from datetime import date as Date
from functools import lru_cache
from pathlib import Path
from typing import Any

from indexer.curated import curated_path
from indexer.errors import QfqError
from indexer.knowledge.model import (
    BUILTIN_FACTS,
    CATEGORIES,
    PROFILE_TYPES,
    Change,
    Competence,
    Condition,
    Criterion,
    Deadline,
    Knowledge,
    Law,
    LegalBasis,
    Mechanism,
    Obligation,
    Subject,
    law_number_pattern,
)
from indexer.knowledge.rules import RuleSyntaxError, parse_condition
from indexer.text.tagging import Taxonomy, load_taxonomy

KNOWLEDGE_DIR = curated_path("knowledge")
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_CRITERION_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_REF = re.compile(r"^(?P<doc>[a-z0-9-]+)/(?P<article>[A-Za-z0-9*\-]+)$")


class KnowledgeError(QfqError):
    """The curated knowledge files are missing or invalid."""

    code = "connaissances_invalides"


class _Problems:
    """Collects French problem messages with the place they were found."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where} : {message}")


def _iso_date(value: Any) -> str | None:
    text = value.isoformat() if isinstance(value, Date) else str(value or "")
    try:
        return Date.fromisoformat(text).isoformat() if re.match(r"^\d{4}-\d{2}-\d{2}$", text) else None
    except ValueError:
        return None


def parse_basis(value: Any) -> LegalBasis:
    """`"cgct/L5214-16"` or `{ref = "cgct/L5214-16", repere = "7° Eau"}` -> LegalBasis.

    Raises:
        ValueError: malformed reference (French message).
    """
    anchor = ""
    if isinstance(value, Mapping):
        unknown = set(value) - {"ref", "repere"}
        if unknown:
            raise ValueError(f"clé(s) inconnue(s) dans une base légale : {', '.join(sorted(unknown))}")
        anchor = str(value.get("repere", "")).strip()
        value = value.get("ref", "")
    match = _REF.match(str(value).strip())
    if not match:
        raise ValueError(
            f"base légale « {value} » mal formée (attendu : document/article, ex. cgct/L5214-16)"
        )
    return LegalBasis(match.group("doc"), match.group("article"), anchor)


def _bases(value: Any, where: str, problems: _Problems) -> tuple[LegalBasis, ...]:
    items = value if isinstance(value, list) else [value]
    bases = []
    for item in items:
        try:
            bases.append(parse_basis(item))
        except ValueError as exc:
            problems.add(where, str(exc))
    return tuple(bases)


def _read_toml(path: Path, problems: _Problems) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.add(path.name, "fichier introuvable")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        problems.add(path.name, f"fichier illisible ({exc})")
    return {}


def _laws(raw: dict[str, Any], problems: _Problems) -> dict[str, Law]:
    laws: dict[str, Law] = {}
    for index, entry in enumerate(raw.get("lois", []), start=1):
        key = str(entry.get("cle", ""))
        where = f"laws.toml, loi {key or index}"
        if not _ID.match(key):
            problems.add(where, "clé absente ou mal formée (minuscules, chiffres et tirets)")
            continue
        if key in laws:
            problems.add(where, "clé en double")
        number = str(entry.get("numero", ""))
        try:
            law_number_pattern(number)
        except ValueError:
            problems.add(where, f"numéro « {number} » mal formé (attendu : AAAA-NNN)")
        law_date = _iso_date(entry.get("date"))
        if law_date is None:
            problems.add(where, "date absente ou invalide (AAAA-MM-JJ)")
        for name in ("nom_court", "titre"):
            if not str(entry.get(name, "")).strip():
                problems.add(where, f"« {name} » manquant")
        laws[key] = Law(
            key=key,
            number=number,
            date=law_date or "",
            short_name=str(entry.get("nom_court", "")),
            title=str(entry.get("titre", "")),
            document=str(entry.get("document", "")),
            forms=tuple(str(form) for form in entry.get("formes", [])),
        )
    return laws


def _check_common(
    entry: dict[str, Any],
    where: str,
    laws: Mapping[str, Law],
    taxonomy: Taxonomy,
    problems: _Problems,
) -> tuple[str, str]:
    theme = str(entry.get("theme", ""))
    if theme not in taxonomy.theme_ids():
        problems.add(where, f"thème « {theme} » absent de la taxonomie ({', '.join(taxonomy.theme_ids())})")
    law = str(entry.get("loi", ""))
    if law not in laws:
        problems.add(where, f"loi « {law} » absente de laws.toml")
    since = _iso_date(entry.get("depuis"))
    if since is None:
        problems.add(where, "« depuis » absent ou invalide (AAAA-MM-JJ)")
    if not str(entry.get("intitule", "")).strip():
        problems.add(where, "« intitule » manquant")
    if not entry.get("base"):
        problems.add(where, "« base » manquante : toute entrée cite au moins un article")
    return law, since or ""


def _changes(
    entries: list[dict[str, Any]], where: str, laws: Mapping[str, Law], problems: _Problems
) -> tuple[Change, ...]:
    changes = []
    for index, entry in enumerate(entries, start=1):
        here = f"{where}, changement {index}"
        change_date = _iso_date(entry.get("date"))
        if change_date is None:
            problems.add(here, "date absente ou invalide")
        law = str(entry.get("loi", ""))
        if law not in laws:
            problems.add(here, f"loi « {law} » absente de laws.toml")
        if not str(entry.get("resume", "")).strip():
            problems.add(here, "« resume » manquant")
        changes.append(
            Change(
                date=change_date or "",
                law=law,
                summary=str(entry.get("resume", "")),
                basis=_bases(entry["base"], here, problems) if "base" in entry else (),
            )
        )
    return tuple(sorted(changes, key=lambda c: c.date))


COMPETENCE_KEYS = {
    "id", "niveaux", "intitule", "categorie", "theme", "base", "depuis", "loi", "resume", "note", "changements",
    "hors_historique",
}  # fmt: skip


def _competences(
    path: Path, laws: Mapping[str, Law], taxonomy: Taxonomy, problems: _Problems
) -> list[Competence]:
    raw = _read_toml(path, problems)
    default_levels = raw.get("niveaux", [])
    competences = []
    for index, entry in enumerate(raw.get("competences", []), start=1):
        cid = str(entry.get("id", ""))
        where = f"{path.name}, compétence {cid or index}"
        if not _ID.match(cid):
            problems.add(where, "identifiant absent ou mal formé")
        unknown = set(entry) - COMPETENCE_KEYS
        if unknown:
            problems.add(where, f"clé(s) inconnue(s) : {', '.join(sorted(unknown))}")
        levels = tuple(entry.get("niveaux", default_levels))
        if not levels:
            problems.add(where, "aucun niveau (clé « niveaux » de l'entrée ou du fichier)")
        for level in levels:
            if level not in taxonomy.level_ids():
                problems.add(where, f"niveau « {level} » absent de la taxonomie")
        category = str(entry.get("categorie", ""))
        if category not in CATEGORIES:
            problems.add(where, f"catégorie « {category} » inconnue ({', '.join(CATEGORIES)})")
        law, since = _check_common(entry, where, laws, taxonomy, problems)
        competences.append(
            Competence(
                id=cid,
                levels=levels,
                title=str(entry.get("intitule", "")),
                category=category,
                theme=str(entry.get("theme", "")),
                basis=_bases(entry.get("base", []), where, problems),
                since=since,
                law=law,
                summary=str(entry.get("resume", "")),
                note=str(entry.get("note", "")),
                changes=_changes(entry.get("changements", []), where, laws, problems),
                source_file=path.name,
                out_of_history=str(entry.get("hors_historique", "")).strip(),
            )
        )
    return competences


OBLIGATION_KEYS = {
    "id", "intitule", "theme", "base", "loi", "depuis", "resume", "note", "applicable_si", "echeances",
    "periodicite", "hors_historique",
}  # fmt: skip


def _condition(spec: Any, where: str, context: dict[str, Any], problems: _Problems) -> Condition | None:
    try:
        return parse_condition(spec, parse_basis=parse_basis, **context)
    except (RuleSyntaxError, ValueError) as exc:
        problems.add(where, f"condition invalide : {exc}")
        return None


def _obligations(
    raw: dict[str, Any],
    laws: Mapping[str, Law],
    taxonomy: Taxonomy,
    context: dict[str, Any],
    problems: _Problems,
) -> list[Obligation]:
    obligations = []
    for index, entry in enumerate(raw.get("obligations", []), start=1):
        oid = str(entry.get("id", ""))
        where = f"obligations.toml, obligation {oid or index}"
        if not _ID.match(oid):
            problems.add(where, "identifiant absent ou mal formé")
        unknown = set(entry) - OBLIGATION_KEYS
        if unknown:
            problems.add(where, f"clé(s) inconnue(s) : {', '.join(sorted(unknown))}")
        law, since = _check_common(entry, where, laws, taxonomy, problems)
        if "applicable_si" not in entry:
            problems.add(where, "« applicable_si » manquant")
            continue
        condition = _condition(entry["applicable_si"], where, context, problems)
        deadlines = []
        for number, item in enumerate(entry.get("echeances", []), start=1):
            here = f"{where}, échéance {number}"
            deadline_date = _iso_date(item.get("date"))
            if deadline_date is None:
                problems.add(here, "date absente ou invalide")
            if not str(item.get("objet", "")).strip():
                problems.add(here, "« objet » manquant")
            deadlines.append(
                Deadline(
                    date=deadline_date or "",
                    what=str(item.get("objet", "")),
                    condition=_condition(item["si"], here, context, problems) if "si" in item else None,
                    basis=_bases(item["base"], here, problems) if "base" in item else (),
                )
            )
        if condition is None:
            continue
        obligations.append(
            Obligation(
                id=oid,
                title=str(entry.get("intitule", "")),
                theme=str(entry.get("theme", "")),
                basis=_bases(entry.get("base", []), where, problems),
                law=law,
                since=since,
                condition=condition,
                summary=str(entry.get("resume", "")),
                note=str(entry.get("note", "")),
                deadlines=tuple(sorted(deadlines, key=lambda d: d.date)),
                recurrence=str(entry.get("periodicite", "")),
                out_of_history=str(entry.get("hors_historique", "")).strip(),
            )
        )
    return obligations


def _named_entry(entry: dict[str, Any], where: str, problems: _Problems) -> tuple[str, tuple[str, ...]]:
    """The id and the expressions (« mots », in order, without repeats) of a subject or a mechanism."""
    entry_id = str(entry.get("id") or "")
    if not _ID.match(entry_id):
        problems.add(where, "« id » manquant ou invalide")
    phrases = tuple(dict.fromkeys(str(p).strip() for p in entry.get("mots") or [] if str(p).strip()))
    if not phrases:
        problems.add(where, "« mots » vide")
    return entry_id, phrases


def _subjects(
    raw: dict[str, Any], competences: list[Competence], obligations: list[Obligation], problems: _Problems
) -> list[Subject]:
    known_competences = {c.id for c in competences}
    known_obligations = {o.id for o in obligations}
    subjects = []
    for index, entry in enumerate(raw.get("sujets") or [], start=1):
        where = f"sujets.toml, sujet {entry.get('id') or index}"
        sid, phrases = _named_entry(entry, where, problems)
        ids = {name: tuple(str(i) for i in entry.get(name) or []) for name in ("competences", "obligations")}
        if not ids["competences"] and not ids["obligations"]:
            problems.add(where, "ni compétence ni obligation")
        for unknown in sorted(set(ids["competences"]) - known_competences):
            problems.add(where, f"compétence « {unknown} » inconnue")
        for unknown in sorted(set(ids["obligations"]) - known_obligations):
            problems.add(where, f"obligation « {unknown} » inconnue")
        subjects.append(
            Subject(
                id=sid,
                title=str(entry.get("intitule") or sid),
                phrases=phrases,
                competences=ids["competences"],
                obligations=ids["obligations"],
            )
        )
    _duplicates((s.id for s in subjects), "sujets.toml", problems)
    return subjects


def _mechanisms(raw: dict[str, Any], problems: _Problems) -> list[Mechanism]:
    mechanisms = []
    for index, entry in enumerate(raw.get("mecanismes") or [], start=1):
        where = f"mecanismes.toml, mécanisme {entry.get('id') or index}"
        mid, phrases = _named_entry(entry, where, problems)
        summary = " ".join(str(entry.get("resume") or "").split())
        if not summary:
            problems.add(where, "« resume » manquant")
        basis = _bases(entry.get("base") or [], where, problems)
        if not basis:
            problems.add(where, "« base » vide : un mécanisme cite au moins un article")
        mechanisms.append(
            Mechanism(
                id=mid, title=str(entry.get("intitule") or mid), summary=summary, phrases=phrases, basis=basis
            )
        )
    _duplicates((m.id for m in mechanisms), "mecanismes.toml", problems)
    return mechanisms


def _duplicates(ids: Iterable[str], what: str, problems: _Problems) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            problems.add(what, f"identifiant « {item} » en double")
        seen.add(item)


def load_knowledge(folder: Path = KNOWLEDGE_DIR, documents: Iterable[str] | None = None) -> Knowledge:
    """Read and validate the knowledge folder.

    Args:
        folder: the folder holding `laws.toml`, `obligations.toml` and `competences/*.toml`.
        documents: corpus document keys; when given, every legal basis must name one of them.

    Returns:
        The validated knowledge.

    Raises:
        KnowledgeError: missing files or invalid entries, every problem listed in French.
    """
    problems = _Problems()
    taxonomy = load_taxonomy()
    laws = _laws(_read_toml(folder / "laws.toml", problems), problems)
    raw = _read_toml(folder / "obligations.toml", problems)
    criteria: dict[str, Criterion] = {}
    for cid, entry in (raw.get("criteres") or {}).items():
        if not _CRITERION_ID.match(cid) or cid in BUILTIN_FACTS:
            problems.add(f"obligations.toml, critère {cid}", "identifiant invalide ou réservé")
        question = str((entry or {}).get("question", "")).strip()
        if not question:
            problems.add(f"obligations.toml, critère {cid}", "« question » manquante")
        criteria[cid] = Criterion(cid, question)
    groups: dict[str, tuple[str, ...]] = {}
    for name, members in (raw.get("groupes") or {}).items():
        groups[name] = tuple(members)
        for member in members:
            if member not in PROFILE_TYPES:
                problems.add(f"obligations.toml, groupe {name}", f"type « {member} » inconnu")
    context = {
        "facts": {**BUILTIN_FACTS, **{cid: c.question for cid, c in criteria.items()}},
        "groups": groups,
        "types": PROFILE_TYPES,
    }
    obligations = _obligations(raw, laws, taxonomy, context, problems)
    competence_files = sorted((folder / "competences").glob("*.toml"))
    if not competence_files:
        problems.add("competences/", "aucun fichier de compétences")
    competences = [c for path in competence_files for c in _competences(path, laws, taxonomy, problems)]
    _duplicates((c.id for c in competences), "compétences", problems)
    _duplicates((o.id for o in obligations), "obligations.toml", problems)
    subjects_file = folder / "sujets.toml"
    subjects = (
        _subjects(_read_toml(subjects_file, problems), competences, obligations, problems)
        if subjects_file.is_file()
        else []
    )
    mechanisms_file = folder / "mecanismes.toml"
    mechanisms = (
        _mechanisms(_read_toml(mechanisms_file, problems), problems) if mechanisms_file.is_file() else []
    )
    knowledge = Knowledge(
        laws=laws,
        competences=competences,
        obligations=obligations,
        criteria=criteria,
        groups=groups,
        subjects=subjects,
        mechanisms=mechanisms,
        folder=str(folder),
    )
    if documents is not None:
        known = set(documents)
        for basis in knowledge.bases():
            if basis.doc_key not in known:
                problems.add(basis.ref, f"document « {basis.doc_key} » absent du corpus")
        for law in laws.values():
            if law.document and law.document not in known:
                problems.add(f"laws.toml, loi {law.key}", f"document « {law.document} » absent du corpus")
    if problems.items:
        shown = "\n  - ".join(problems.items)
        raise KnowledgeError(
            f"Connaissances invalides dans {folder} ({len(problems.items)} problème(s)) :\n  - {shown}",
            details={"problemes": problems.items},
        )
    return knowledge


@lru_cache(maxsize=2)
def cached_knowledge(folder: Path = KNOWLEDGE_DIR) -> Knowledge:
    """`load_knowledge(folder)`, read once per process."""
    return load_knowledge(folder)
