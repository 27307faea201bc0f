"""API models, separate from the indexer's records: search parameters, hits, documents, health, errors."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.api.schemas_knowledge import Answer, MechanismOut

MAX_QUERY_CHARS = 500
MAX_K = 50
MAX_OFFSET = 1000
MAX_FILTER_VALUES = 30
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"

Mode = Literal["hybrid", "dense", "lexical"]
ExportFormat = Literal["md", "csv", "json"]
StatusValue = Literal["en_vigueur", "abroge", "a_venir"]

EXAMPLE_QUERY = "Quelles compétences exerce une communauté de communes ?"


def _split_values(value: Any) -> Any:
    """Accept repeated parameters, comma-separated values, or a single string."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple):
        out: list[Any] = []
        for item in value:
            if isinstance(item, str):
                out.extend(part.strip() for part in item.split(",") if part.strip())
            else:
                out.append(item)
        return out
    return value


class SearchParams(BaseModel):
    """Parameters of a search, as GET query parameters or a POST JSON body (unknown names are refused)."""

    model_config = ConfigDict(extra="forbid")

    q: str = Field(
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        description="La question, en français (1 à 500 caractères). Un article cité (« L5214-16 ») passe en tête.",
        examples=[EXAMPLE_QUERY],
    )
    niveau: list[str] = Field(
        default_factory=list,
        max_length=MAX_FILTER_VALUES,
        description="Niveaux de collectivité (répétable ou séparés par des virgules) ; voir /v1/taxonomy.",
        examples=[["intercommunalite"]],
    )
    theme: list[str] = Field(
        default_factory=list,
        max_length=MAX_FILTER_VALUES,
        description="Thèmes (répétable ou séparés par des virgules) ; voir /v1/taxonomy.",
        examples=[["dechets"]],
    )
    document: list[str] = Field(
        default_factory=list,
        max_length=MAX_FILTER_VALUES,
        description="Clés de documents (répétable) ; voir /v1/documents.",
        examples=[["cgct"]],
    )
    type: list[str] = Field(
        default_factory=list,
        max_length=MAX_FILTER_VALUES,
        description="Types de documents : code, loi, guide (répétable).",
        examples=[["code"]],
    )
    k: int = Field(default=10, ge=1, le=MAX_K, description="Nombre de résultats (1 à 50).", examples=[5])
    offset: int = Field(
        default=0, ge=0, le=MAX_OFFSET, description="Résultats sautés (pagination, 0 à 1000).", examples=[0]
    )
    en_vigueur: bool = Field(
        default=True,
        description="true : seulement les dispositions non abrogées ; false : inclure les dispositions abrogées.",
    )
    date: str | None = Field(
        default=None,
        pattern=DATE_PATTERN,
        description="Dispositions en vigueur à cette date (AAAA-MM-JJ) quand la source donne les dates.",
        examples=["2021-01-01"],
    )
    mode: Mode = Field(
        default="hybrid", description="hybrid (fusion, défaut), dense (sémantique) ou lexical (BM25)."
    )
    grouper: bool = Field(
        default=False, description="Un seul résultat par article (sa meilleure partie), les autres listées."
    )

    @field_validator("niveau", "theme", "document", "type", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split_values(value)

    @field_validator("k", "offset", mode="before")
    @classmethod
    def _no_booleans(cls, value: Any) -> Any:
        # JSON true would otherwise count as 1: the same value must mean the same thing in GET and POST.
        if isinstance(value, bool):
            raise ValueError("un nombre entier est attendu, pas true ou false")
        return value


class SearchBody(SearchParams):
    """POST body of /v1/search: same fields as the GET parameters; unknown fields are refused."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"q": EXAMPLE_QUERY, "niveau": ["intercommunalite"], "k": 5},
                {"q": "article L2224-13 collecte des déchets", "document": ["cgct"], "en_vigueur": True},
            ]
        },
    )


class ExportParams(SearchParams):
    """Search parameters plus the export format."""

    format: ExportFormat = Field(
        default="md", description="md (fiche Markdown citée), csv (point-virgule, UTF-8 avec BOM) ou json."
    )


class ExportBody(ExportParams):
    """POST body of /v1/search/export."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"q": EXAMPLE_QUERY, "format": "md", "k": 5}]},
    )


class Scores(BaseModel):
    """Score components of a hit."""

    score: float = Field(description="Valeur de classement du mode (fusion, cosinus ou BM25).")
    dense: float | None = Field(description="Similarité cosinus avec la question (absente en mode lexical).")
    lexical: float = Field(description="Score BM25.")
    fused: float = Field(description="Score de fusion des rangs (RRF).")
    dense_rank: int | None = Field(description="Rang dans la liste dense (1 = premier).")
    lexical_rank: int | None = Field(description="Rang dans la liste lexicale.")


class SearchHit(BaseModel):
    """One result: a citable passage with its source and why it was found."""

    rank: int = Field(description="Rang dans la réponse complète (1 = premier).", examples=[1])
    passage_id: str = Field(examples=["cgct/L5214-16"])
    article_id: str = Field(examples=["cgct/L5214-16"])
    article: str = Field(examples=["L5214-16"])
    part: int = Field(description="0 pour un article entier, n pour sa n-ième partie.")
    title: str = Field(description="Titre de section (guides).")
    text: str = Field(description="Texte du passage.")
    highlighted: str = Field(
        description="Texte échappé pour HTML, termes de la question entourés de <mark>…</mark>."
    )
    matched_terms: list[str] = Field(description="Mots du passage qui correspondent à la question.")
    doc_key: str = Field(examples=["cgct"])
    document_title: str = Field(examples=["Code général des collectivités territoriales"])
    short_name: str = Field(examples=["CGCT"])
    kind: str = Field(examples=["code"])
    heading_path: list[str]
    version_date: str = Field(
        description="Date de la version du texte dans le corpus.", examples=["2020-10-28"]
    )
    status: StatusValue
    status_label: str = Field(examples=["en vigueur"])
    url: str = Field(description="Lien Légifrance ou source.")
    citation: str = Field(examples=["CGCT, art. L5214-16 (version du 2020-10-28)"])
    levels: list[str]
    themes: list[str]
    article_match: bool = Field(description="La question cite cet article : il est placé en tête.")
    level_match: bool = Field(
        default=False,
        description=(
            "Le passage concerne un niveau de collectivité nommé dans la question et son score a reçu le bonus "
            "de niveau ; ce bonus est nul par défaut (sans gain mesuré), ce champ vaut alors toujours false."
        ),
    )
    other_parts: list[str] = Field(description="Avec grouper=true : autres parties correspondantes.")
    scores: Scores


class AppliedFilters(BaseModel):
    """Filters applied to a search."""

    niveau: list[str]
    theme: list[str]
    document: list[str]
    type: list[str]
    en_vigueur: bool
    date: str | None


class SigleOut(BaseModel):
    """An acronym of the question and its expansion."""

    sigle: str = Field(examples=["GEMAPI"])
    developpement: str = Field(examples=["gestion des milieux aquatiques et prévention des inondations"])


class SearchResponse(BaseModel):
    """A page of results."""

    query: str
    mode: Mode
    mode_effectif: Mode = Field(
        description="Le mode qui a classé les passages : celui demandé, ou « lexical » tant que l'index n'a pas "
        "encore ses vecteurs (premier lancement : passages en cours d'encodage, voir /readyz).",
        examples=["hybrid"],
    )
    k: int
    offset: int
    total_candidates: int = Field(description="Nombre de passages candidats classés avant pagination.")
    filters: AppliedFilters
    niveaux_reconnus: list[str] = Field(
        default_factory=list,
        description="Niveaux de collectivité reconnus dans la question (« l'agglo », « une communauté de communes »).",
        examples=[["communaute-de-communes"]],
    )
    sigles_developpes: list[SigleOut] = Field(
        default_factory=list,
        description="Sigles de la question développés avant la recherche (corpus/sigles.toml).",
    )
    reponse: Answer | None = Field(
        default=None,
        description="La réponse des connaissances curées quand la question porte sur qui exerce une compétence "
        "ou si une obligation s'applique et qu'elles y répondent avec assurance ; null sinon.",
    )
    mecanismes: list[MechanismOut] = Field(
        default_factory=list,
        description="Les mécanismes curés que la question nomme (transférer, rendre une compétence, fonds de "
        "concours, mise à disposition…), chacun avec son résumé et ses articles cités ; vide sinon.",
    )
    build_id: str = Field(description="Identifiant de l'index interrogé.")
    took_ms: float = Field(description="Durée de la recherche en millisecondes.")
    hits: list[SearchHit]


class LinkOut(BaseModel):
    """A relation of the provision with another text."""

    kind: str
    text: str
    date: str


class PassageDetail(BaseModel):
    """A passage with all its metadata."""

    passage_id: str
    article_id: str
    article: str
    part: int
    title: str
    text: str
    header: str
    doc_key: str
    document_title: str
    short_name: str
    kind: str
    heading_path: list[str]
    version_date: str
    status: StatusValue
    status_label: str
    date_debut: str
    date_fin: str
    url: str
    citation: str
    pages: list[int]
    levels: list[str]
    themes: list[str]
    tag_reasons: dict[str, list[str]]
    links: list[LinkOut]
    amended_by: list[str]
    article_parts: list[str] = Field(description="Identifiants de toutes les parties de l'article.")


class ArticleDetail(BaseModel):
    """Every passage of one article, in part order."""

    article_id: str
    doc_key: str
    article: str
    passages: list[PassageDetail]


class DocumentSummary(BaseModel):
    """A document of the index with its version dates and counts."""

    model_config = ConfigDict(extra="allow")

    key: str = Field(examples=["cgct"])
    title: str
    short_name: str
    kind: str
    official_id: str
    url: str
    format: str
    version_date: str = Field(examples=["2020-10-28"])
    head_version_date: str = ""
    source: str
    licence: str
    passages: int
    articles: int
    by_status: dict[str, int]


class DocumentList(BaseModel):
    """Documents of the index, in corpus order."""

    build_id: str
    count: int
    documents: list[DocumentSummary]


class TaxonomyTerm(BaseModel):
    """A level or theme."""

    id: str = Field(examples=["intercommunalite"])
    label: str = Field(examples=["Intercommunalité"])


class TaxonomyOut(BaseModel):
    """Levels of government and themes used to tag passages."""

    version: str
    levels: list[TaxonomyTerm]
    themes: list[TaxonomyTerm]
    kinds: list[str] = Field(description="Types de documents présents dans l'index.")


class IndexManifest(BaseModel):
    """The manifest of the loaded index bundle (format, model, counts, hashes)."""

    model_config = ConfigDict(extra="allow")

    format_version: int
    build_id: str
    built_at: str
    model: dict[str, Any]
    counts: dict[str, Any]


class Liveness(BaseModel):
    """The process answers."""

    status: Literal["ok"] = "ok"


class BuildProgressOut(BaseModel):
    """Progress of the build that embeds the passages (first run), read from its progress file."""

    model_config = ConfigDict(extra="allow")

    etat: str = Field(description="en_cours, terminee, echec ou interrompue.", examples=["en_cours"])
    etape: str = Field(description="lecture, embeddings, index, store, lexical, manifest, publish.")
    faits: int = Field(description="Passages encodés (repris du cache compris).")
    total: int = Field(description="Passages à encoder en tout.")
    passages_par_seconde: float | None = None
    reste_secondes: int | None = Field(default=None, description="Temps restant estimé.")
    message: str = ""


class Readiness(BaseModel):
    """The index is loaded and searches can be answered."""

    status: Literal["pret"] = "pret"
    build_id: str
    passages: int
    loaded_at: str
    mode_effectif: Literal["hybrid", "lexical"] = Field(
        description="« lexical » tant que l'index n'a pas ses vecteurs (premier lancement) : les recherches "
        "sont alors lexicales, quel que soit le mode demandé.",
    )
    construction: BuildProgressOut | None = Field(
        default=None,
        description="Tant que l'index est lexical seulement : la progression de l'encodage des passages, "
        "après quoi l'index hybride est publié et chargé sans redémarrage.",
    )


class ErrorContent(BaseModel):
    """Content of an error answer."""

    code: str = Field(description="Code stable, pour les programmes.", examples=["filtre_invalide"])
    message: str = Field(description="Message en français, pour les personnes.")
    details: dict[str, Any] = Field(description="Contexte structuré (valeurs possibles, champs fautifs...).")


class ErrorResponse(BaseModel):
    """The one error shape of the API."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "filtre_invalide",
                        "message": "Valeur de niveau inconnue : canton. Valeurs possibles : commune, departement…",
                        "details": {"filtre": "levels", "inconnues": ["canton"], "acceptes": ["commune"]},
                    }
                }
            ]
        }
    )

    error: ErrorContent
