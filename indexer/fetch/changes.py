"""What a fetch changed, text by text: new, modified and abrogated articles, in French or JSON."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from indexer.fetch.convert import tree_articles

EXAMPLES = 8

STATUS_LABELS = {
    "nouveau": "nouveau texte",
    "mis_a_jour": "mis à jour",
    "inchange": "inchangé",
}


@dataclass
class TextChange:
    """Outcome of one fetched text against its previous version."""

    key: str
    short_name: str
    status: str  # nouveau, mis_a_jour, inchange
    version_date: str
    previous_version_date: str = ""
    previous_format: str = ""  # format of the previous version when it was not legi-piste-json
    articles: int = 0
    downloaded_articles: int = 0
    new: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    abrogated: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["counts"] = {
            "new": len(self.new),
            "modified": len(self.modified),
            "abrogated": len(self.abrogated),
        }
        return data


def _is_abrogated(etat: object) -> bool:
    return str(etat or "").startswith("ABROGE")


def _by_article(tree: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    # The LEGIARTI `cid` names an article across its versions; the number is the fallback.
    return {str(data.get("cid") or data.get("num")): data for data in tree_articles(tree)}


def diff_trees(
    old: Mapping[str, Any] | None, new: Mapping[str, Any]
) -> tuple[list[str], list[str], list[str]]:
    """Compare two versions of a text, article by article.

    An article is new when it is absent from the old version (or was abrogated there and is in force
    again), modified when its wording differs, abrogated when its `etat` turned to ABROGE… or when it
    disappeared from the text.

    Args:
        old: the previous tree, or None for a first fetch (every article is then new).
        new: the fetched tree.

    Returns:
        (new, modified, abrogated) article numbers, in reading order.
    """
    before = _by_article(old) if old is not None else {}
    after = _by_article(new)
    added: list[str] = []
    modified: list[str] = []
    abrogated: list[str] = []
    for key, data in after.items():
        number = str(data.get("num") or key)
        previous = before.get(key)
        if previous is None or (_is_abrogated(previous.get("etat")) and not _is_abrogated(data.get("etat"))):
            added.append(number)
        elif _is_abrogated(data.get("etat")) and not _is_abrogated(previous.get("etat")):
            abrogated.append(number)
        elif " ".join(str(data.get("texte") or "").split()) != " ".join(
            str(previous.get("texte") or "").split()
        ):
            modified.append(number)
    for key, data in before.items():
        if key not in after and not _is_abrogated(data.get("etat")):
            abrogated.append(str(data.get("num") or key))
    return added, modified, abrogated


def _examples(numbers: list[str]) -> str:
    shown = ", ".join(numbers[:EXAMPLES])
    return shown + (", …" if len(numbers) > EXAMPLES else "")


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def render_fr(
    changes: Iterable[TextChange], *, swapped: bool, out: str, requests: int, replaced: bool = True
) -> str:
    """The change report a person reads after `qfq corpus fetch`.

    Args:
        changes: one entry per fetched text.
        swapped: whether the corpus folder was replaced or created.
        out: the corpus folder.
        requests: HTTP requests sent to PISTE.
        replaced: whether an older corpus existed (and is now in `out.previous`).
    """
    changes = list(changes)
    updated = [c for c in changes if c.status != "inchange"]
    lines = [
        f"Textes vérifiés : {len(changes)} ; mis à jour ou nouveaux : {len(updated)} ; "
        f"inchangés : {len(changes) - len(updated)} ({_plural(requests, 'requête', 'requêtes')} à l'API)."
    ]
    for change in changes:
        version = f"version du {change.version_date}" if change.version_date else "version sans date"
        if change.previous_version_date and change.previous_version_date != change.version_date:
            version = f"version du {change.previous_version_date} → {change.version_date}"
        label = STATUS_LABELS.get(change.status, change.status)
        head = f"- {change.key} ({change.short_name}) : {label}, {version}"
        if change.status == "inchange":
            lines.append(head)
            continue
        head += f", {_plural(change.articles, 'article', 'articles')}"
        if change.previous_format:
            head += f" (remplace la version au format {change.previous_format})"
        lines.append(head)
        if change.status == "nouveau":
            continue
        for one, many, numbers in (
            ("nouveau", "nouveaux", change.new),
            ("modifié", "modifiés", change.modified),
            ("abrogé ou retiré", "abrogés ou retirés", change.abrogated),
        ):
            if numbers:
                lines.append(f"    {_plural(len(numbers), one, many)} : {_examples(numbers)}")
    if swapped and replaced:
        lines.append(f"Nouveau corpus en place dans {out} (l'ancien est conservé dans {out}.previous).")
    elif swapped:
        lines.append(f"Corpus créé dans {out}.")
    else:
        lines.append(f"Corpus déjà à jour : {out} n'a pas été modifié.")
    return "\n".join(lines)
