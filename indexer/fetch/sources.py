"""The list of tracked texts (`corpus/sources.toml`): keys, short names, Légifrance ids, guide URLs."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from indexer.curated import curated_path
from indexer.errors import ConfigError

DEFAULT_SOURCES = curated_path("sources.toml")
KINDS = ("code", "loi", "guide")
ID_PREFIX = {"code": "LEGITEXT", "loi": "JORFTEXT"}


@dataclass(frozen=True)
class Source:
    """One tracked text: a code (LEGITEXT id), a law (JORFTEXT id) or a guide (URL only)."""

    key: str
    short_name: str
    kind: str
    official_id: str
    title: str
    url: str

    @property
    def fetchable(self) -> bool:
        """Codes and laws come from the API; guides are carried over from the current corpus."""
        return self.kind in ID_PREFIX

    @property
    def nature(self) -> str:
        """`nature` parameter of `/consult/legi/tableMatieres`."""
        return "CODE" if self.kind == "code" else "LOI"

    @property
    def target_path(self) -> str:
        """Path of the fetched file inside the corpus folder."""
        folder = "codes" if self.kind == "code" else "lois"
        return f"{folder}/{self.key}.piste.json"


def load_sources(path: Path = DEFAULT_SOURCES) -> list[Source]:
    """Read and check `sources.toml`.

    Args:
        path: the TOML file with one `[[texts]]` table per text.

    Returns:
        The sources in file order.

    Raises:
        ConfigError: the file is missing, not TOML, or an entry is incomplete or inconsistent.
    """
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(
            f"Liste des textes suivis introuvable : {path}.", code="sources_introuvables"
        ) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"Liste des textes suivis illisible ({path}) : {exc}", code="sources_illisibles"
        ) from exc
    entries = raw.get("texts")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path} ne déclare aucun texte ([[texts]]).", code="sources_vides")
    sources: list[Source] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries, start=1):
        source = _source(entry, index, path)
        if source.key in seen:
            raise ConfigError(f"{path} : clé en double « {source.key} ».", code="sources_cle_double")
        seen.add(source.key)
        sources.append(source)
    return sources


def _source(entry: dict, index: int, path: Path) -> Source:
    fields = ("key", "short_name", "kind", "official_id", "title", "url")
    missing = [name for name in fields if not isinstance(entry.get(name), str)]
    label = entry.get("key", f"n° {index}")
    if missing:
        raise ConfigError(
            f"{path} : le texte {label} n'a pas de champ(s) {', '.join(missing)}.",
            code="sources_champ_manquant",
        )
    source = Source(**{name: entry[name].strip() for name in fields})
    if not source.key:
        raise ConfigError(f"{path} : le texte n° {index} a une clé vide.", code="sources_champ_manquant")
    if source.kind not in KINDS:
        raise ConfigError(
            f"{path} : le texte {label} a un type « {source.kind} » inconnu (attendu : {', '.join(KINDS)}).",
            code="sources_type_inconnu",
        )
    prefix = ID_PREFIX.get(source.kind)
    if prefix and not (source.official_id.startswith(prefix) and source.official_id[len(prefix) :].isdigit()):
        raise ConfigError(
            f"{path} : le texte {label} ({source.kind}) doit avoir un identifiant {prefix}…, "
            f"pas « {source.official_id} ».",
            code="sources_identifiant_invalide",
        )
    if source.kind == "guide" and not source.url:
        raise ConfigError(f"{path} : le guide {label} n'a pas d'URL.", code="sources_champ_manquant")
    return source
