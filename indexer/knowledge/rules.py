"""The one rule engine: parse conditions written as data and evaluate them with three-valued logic.

A condition is a string such as `"population >= 3500"`, `"type in [commune, epci-fp]"`,
`"date >= 2021-01-01"` or `"site_internet = oui"`, a table `{test = "...", motif = "...", base = "..."}`
adding the French reason shown when it fails, or a combination `{all = [...]}` / `{any = [...], motif = ...}`.
Evaluation is Kleene's: a missing input makes a test undetermined; `all` fails as soon as one part fails
(whatever the unknown parts), `any` holds as soon as one part holds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date as Date
from enum import StrEnum
from typing import Any

from indexer.knowledge.model import AllOf, AnyOf, Comparison, Condition, LegalBasis

COMPARISONS = (">=", "<=", "!=", ">", "<", "=")
OP_LABELS = {
    ">=": "≥",
    "<=": "≤",
    "!=": "≠",
    ">": ">",
    "<": "<",
    "=": "=",
    "in": "parmi",
    "not in": "hors de",
}
NUMERIC_FACTS = frozenset({"population", "agents"})
YES = frozenset({"oui", "vrai", "true", "yes", "1"})
NO = frozenset({"non", "faux", "false", "no", "0"})
_TEST = re.compile(
    r"^\s*(?P<field>[a-z][a-z0-9_]*)\s*(?:(?P<op>not in|in|>=|<=|!=|==|>|<|=)\s*(?P<value>.+?))?\s*$"
)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Outcome(StrEnum):
    """Three-valued result of a condition."""

    APPLIES = "applicable"
    DOES_NOT_APPLY = "non_applicable"
    UNDETERMINED = "indetermine"


@dataclass
class Verdict:
    """Outcome of a condition with its explanation.

    `reasons` are the French reasons of the failing tests (for DOES_NOT_APPLY), `missing` the inputs whose
    absence left the result open (for UNDETERMINED), `held` the tests found true.
    """

    outcome: Outcome
    reasons: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)


class RuleSyntaxError(ValueError):
    """A condition cannot be read; the message is French."""


# --- parsing --------------------------------------------------------------------------------------


def parse_condition(
    spec: Any,
    *,
    facts: Mapping[str, str],
    groups: Mapping[str, Sequence[str]],
    types: Sequence[str],
    parse_basis: Any = None,
) -> Condition:
    """Turn the data form of a condition into a tree of tests.

    Args:
        spec: a string, a `{test, motif, base}` table or an `{all}` / `{any}` table.
        facts: allowed input names -> French label (type, population, agents, date and the criteria).
        groups: names usable inside `type in [...]` lists for several types (e.g. `epci-fp`).
        types: allowed type ids.
        parse_basis: callable turning a `base` value into a `LegalBasis` (optional).

    Returns:
        The condition tree.

    Raises:
        RuleSyntaxError: unknown input, operator, type or malformed value.
    """
    if isinstance(spec, str):
        return _parse_test(spec, "", None, facts, groups, types)
    if not isinstance(spec, Mapping):
        raise RuleSyntaxError(f"condition illisible : {spec!r} (texte ou table attendu)")
    keys = set(spec)
    combinator = keys & {"all", "any"}
    if len(combinator) == 1:
        (name,) = combinator
        extra = keys - {name, "motif"}
        if extra:
            raise RuleSyntaxError(
                f"clé(s) inconnue(s) dans une condition « {name} » : {', '.join(sorted(extra))}"
            )
        items = spec[name]
        if not isinstance(items, list) or not items:
            raise RuleSyntaxError(f"« {name} » attend une liste non vide de conditions")
        parts = tuple(
            parse_condition(item, facts=facts, groups=groups, types=types, parse_basis=parse_basis)
            for item in items
        )
        if name == "all":
            if "motif" in spec:
                raise RuleSyntaxError("« motif » n'est admis que sur une condition « any » ou un test")
            return AllOf(parts)
        return AnyOf(parts, reason=str(spec.get("motif", "")))
    if "test" in keys:
        extra = keys - {"test", "motif", "base"}
        if extra:
            raise RuleSyntaxError(f"clé(s) inconnue(s) dans un test : {', '.join(sorted(extra))}")
        basis = None
        if "base" in spec:
            if parse_basis is None:
                raise RuleSyntaxError("« base » n'est pas admis ici")
            basis = parse_basis(spec["base"])
        return _parse_test(str(spec["test"]), str(spec.get("motif", "")), basis, facts, groups, types)
    raise RuleSyntaxError(f"condition illisible : {dict(spec)!r} (attendu : test, all ou any)")


def _parse_test(
    text: str,
    reason: str,
    basis: LegalBasis | None,
    facts: Mapping[str, str],
    groups: Mapping[str, Sequence[str]],
    types: Sequence[str],
) -> Comparison:
    match = _TEST.match(text)
    if not match:
        raise RuleSyntaxError(f"test illisible : « {text} »")
    name, op, raw = match.group("field"), match.group("op"), match.group("value")
    if name not in facts:
        raise RuleSyntaxError(f"donnée inconnue « {name} » dans « {text} » (connues : {', '.join(facts)})")
    if op is None:  # a bare criterion name means "criterion = oui"
        op, raw = "=", "oui"
    op = "=" if op == "==" else op
    value: Any
    if name == "type":
        if op in ("in", "not in"):
            value = _type_list(raw, text, groups, types)
        elif op in ("=", "!="):
            value = _type_list(f"[{raw}]", text, groups, types)
            op = "in" if op == "=" else "not in"
        else:
            raise RuleSyntaxError(f"opérateur « {op} » impossible sur le type dans « {text} »")
    elif name in NUMERIC_FACTS:
        if op in ("in", "not in"):
            raise RuleSyntaxError(f"opérateur « {op} » impossible sur un nombre dans « {text} »")
        digits = re.sub(r"[\s_\u202f\u00a0]", "", raw)
        if not digits.isdigit():
            raise RuleSyntaxError(f"nombre entier attendu dans « {text} »")
        value = int(digits)
    elif name == "date":
        if op in ("in", "not in") or not _ISO_DATE.match(raw):
            raise RuleSyntaxError(f"date AAAA-MM-JJ et comparaison attendues dans « {text} »")
        _check_date(raw, text)
        value = raw
    else:  # yes/no criterion
        if op not in ("=", "!="):
            raise RuleSyntaxError(f"un critère oui/non n'admet que = ou != dans « {text} »")
        folded = raw.strip().lower()
        if folded not in YES | NO:
            raise RuleSyntaxError(f"valeur oui/non attendue dans « {text} »")
        value = folded in YES
    return Comparison(field=name, op=op, value=value, text=text.strip(), reason=reason, basis=basis)


def _check_date(raw: str, text: str) -> None:
    try:
        Date.fromisoformat(raw)
    except ValueError as exc:
        raise RuleSyntaxError(f"date impossible dans « {text} »") from exc


def _type_list(
    raw: str, text: str, groups: Mapping[str, Sequence[str]], types: Sequence[str]
) -> tuple[str, ...]:
    raw = raw.strip()
    if not (raw.startswith("[") and raw.endswith("]")):
        raise RuleSyntaxError(f"liste [a, b] attendue dans « {text} »")
    names = [item.strip() for item in raw[1:-1].split(",") if item.strip()]
    if not names:
        raise RuleSyntaxError(f"liste vide dans « {text} »")
    expanded: list[str] = []
    for name in names:
        members = groups.get(name, (name,))
        for member in members:
            if member not in types:
                raise RuleSyntaxError(f"type inconnu « {member} » dans « {text} »")
            if member not in expanded:
                expanded.append(member)
    return tuple(expanded)


# --- evaluation -----------------------------------------------------------------------------------


def evaluate(
    condition: Condition, facts: Mapping[str, Any], labels: Mapping[str, str] | None = None
) -> Verdict:
    """Evaluate a condition on the known inputs.

    Args:
        condition: the parsed condition.
        facts: input name -> value (`type` str, `population`/`agents` int, `date` ISO str, criteria bool);
            a missing name or None means unknown.
        labels: French labels of types and inputs, for the reasons (ids are shown otherwise).

    Returns:
        The verdict with reasons (failing tests) or missing inputs.
    """
    labels = labels or {}
    if isinstance(condition, Comparison):
        return _evaluate_test(condition, facts, labels)
    verdicts = [evaluate(part, facts, labels) for part in condition.parts]
    held = [text for v in verdicts if v.outcome is Outcome.APPLIES for text in v.held]
    failed = [v for v in verdicts if v.outcome is Outcome.DOES_NOT_APPLY]
    unknown = [v for v in verdicts if v.outcome is Outcome.UNDETERMINED]
    missing = _unique(name for v in unknown for name in v.missing)
    if isinstance(condition, AllOf):
        if failed:
            return Verdict(
                Outcome.DOES_NOT_APPLY, reasons=_unique(r for v in failed for r in v.reasons), held=held
            )
        if unknown:
            return Verdict(Outcome.UNDETERMINED, missing=missing, held=held)
        return Verdict(Outcome.APPLIES, held=held)
    if any(v.outcome is Outcome.APPLIES for v in verdicts):
        first = next(v for v in verdicts if v.outcome is Outcome.APPLIES)
        return Verdict(Outcome.APPLIES, held=first.held)
    if unknown:
        return Verdict(Outcome.UNDETERMINED, missing=missing)
    if condition.reason:
        return Verdict(Outcome.DOES_NOT_APPLY, reasons=[condition.reason])
    return Verdict(Outcome.DOES_NOT_APPLY, reasons=[" ; ".join(r for v in failed for r in v.reasons)])


def _evaluate_test(test: Comparison, facts: Mapping[str, Any], labels: Mapping[str, str]) -> Verdict:
    actual = facts.get(test.field)
    if actual is None:
        return Verdict(Outcome.UNDETERMINED, missing=[test.field])
    if _holds(test, actual):
        return Verdict(Outcome.APPLIES, held=[test.text])
    return Verdict(Outcome.DOES_NOT_APPLY, reasons=[test.reason or describe_failure(test, actual, labels)])


def _holds(test: Comparison, actual: Any) -> bool:
    value = test.value
    if test.op == "in":
        return bool(actual in value)
    if test.op == "not in":
        return bool(actual not in value)
    if test.op == "=":
        return bool(actual == value)
    if test.op == "!=":
        return bool(actual != value)
    if test.op == ">=":
        return bool(actual >= value)
    if test.op == ">":
        return bool(actual > value)
    if test.op == "<=":
        return bool(actual <= value)
    if test.op == "<":
        return bool(actual < value)
    raise RuleSyntaxError(f"opérateur inconnu « {test.op} »")


def french_number(value: int) -> str:
    """3500 -> "3 500" (French digit grouping)."""
    return f"{value:,}".replace(",", " ")


def describe_failure(test: Comparison, actual: Any, labels: Mapping[str, str]) -> str:
    """Default French reason of a failing test, e.g. "population de 3 499 habitants : il faut ≥ 3 500"."""
    if test.field == "type":
        shown = ", ".join(labels.get(t, t) for t in test.value)
        if test.op == "in":
            return f"le type « {labels.get(actual, actual)} » n'est pas visé (types visés : {shown})"
        return f"le type « {labels.get(actual, actual)} » est exclu"
    symbol = OP_LABELS[test.op]
    if test.field == "population":
        return f"population de {french_number(actual)} habitants : la condition est {symbol} {french_number(test.value)}"
    if test.field == "agents":
        return f"effectif de {french_number(actual)} agents : la condition est {symbol} {french_number(test.value)}"
    if test.field == "date":
        return f"à la date du {actual}, la condition « date {symbol} {test.value} » n'est pas remplie"
    label = labels.get(test.field, test.field)
    expected = "oui" if test.value else "non"
    expected = expected if test.op == "=" else ("non" if test.value else "oui")
    return f"« {label} » : réponse « {'oui' if actual else 'non'} », il faut « {expected} »"


def _unique(items: Any) -> list[str]:
    return list(dict.fromkeys(items))
