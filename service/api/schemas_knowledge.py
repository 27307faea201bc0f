"""API schemas of the knowledge routes: competences by level, obligations of a profile, impact of a law."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# --- shared ---------------------------------------------------------------------------------------


class LawRef(BaseModel):
    """A law, as cited by a competence or an obligation."""

    cle: str = Field(examples=["notre"])
    nom_court: str = Field(examples=["Loi NOTRe"])
    numero: str = Field(examples=["2015-991"])
    date: str | None = Field(default=None, examples=["2015-08-07"])


class CitedPassage(BaseModel):
    """The passage of a legal basis: excerpt around the cited paragraph, version date and status."""

    article_id: str = Field(description="Base légale `document/article`.", examples=["cgct/L5214-16"])
    passage_id: str | None = Field(description="Passage d'où vient l'extrait.", examples=["cgct/L5214-16#2"])
    trouve: bool = Field(description="L'article existe dans l'index (ou le corpus).")
    citation: str = Field(examples=["CGCT, art. L5214-16 (version du 2020-10-28)"])
    extrait: str
    repere: str | None = Field(description="Mots qui situent le paragraphe cité dans l'article.")
    version_date: str | None
    statut: str | None = Field(examples=["en_vigueur"])
    statut_libelle: str | None = Field(examples=["en vigueur"])
    url: str | None


# --- competences ----------------------------------------------------------------------------------


class ChangeLaw(BaseModel):
    cle: str
    nom_court: str
    numero: str


class CompetenceChange(BaseModel):
    """A later change of a competence."""

    date: str
    loi: ChangeLaw
    resume: str
    base: list[str]


class CompetenceOut(BaseModel):
    """One competence with its category, legal basis and cited passages."""

    id: str = Field(examples=["cc-eau"])
    intitule: str
    categorie: str = Field(examples=["obligatoire"])
    categorie_libelle: str = Field(examples=["obligatoire"])
    theme: str = Field(examples=["eau-assainissement"])
    niveaux: list[str]
    base: list[str] = Field(description="Bases légales `document/article`.", examples=[["cgct/L5214-16"]])
    depuis: str = Field(examples=["2020-01-01"])
    loi: LawRef
    resume: str | None
    note: str | None
    changements: list[CompetenceChange]
    passages: list[CitedPassage]


class CompetenceTheme(BaseModel):
    theme: str
    libelle: str
    competences: list[CompetenceOut]


class CompetencesResponse(BaseModel):
    """Competences of one level of government, grouped by theme."""

    niveau: str = Field(examples=["communaute-de-communes"])
    libelle: str
    total: int
    par_categorie: dict[str, int]
    themes: list[CompetenceTheme]
    articles_absents: list[str] = Field(
        default_factory=list, description="Articles cités absents de l'index interrogé (index partiel)."
    )
    avertissement: str | None = Field(
        default=None, description="Avertissement en français quand des articles cités manquent à l'index."
    )


# --- profile --------------------------------------------------------------------------------------


class ProfileRequest(BaseModel):
    """A collectivité: its type, and what is known of its size; yes/no criteria refine the answer."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(
        min_length=1,
        max_length=60,
        description="Type de collectivité.",
        examples=["communaute-d-agglomeration"],
    )
    population: int | None = Field(default=None, ge=0, le=100_000_000, description="Nombre d'habitants.")
    agents: int | None = Field(
        default=None, ge=0, le=10_000_000, description="Agents en équivalents temps plein."
    )
    date: str | None = Field(
        default=None,
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="Date d'évaluation (aujourd'hui par défaut).",
    )
    criteres: dict[str, bool] = Field(
        default_factory=dict,
        max_length=50,
        description="Réponses oui/non aux critères (voir `criteres_disponibles` dans la réponse).",
        examples=[{"site_internet": True}],
    )


class MissingInput(BaseModel):
    donnee: str = Field(examples=["site_internet"])
    libelle: str


class DeadlineOut(BaseModel):
    date: str
    objet: str
    concerne: str = Field(description="applicable, non_applicable ou indetermine pour ce profil.")
    depassee: bool = Field(description="La date du profil est postérieure à l'échéance.")
    base: list[str]


class ObligationOut(BaseModel):
    """An obligation and its verdict for the profile."""

    id: str = Field(examples=["donnees-ouvertes"])
    intitule: str
    theme: str
    theme_libelle: str
    base: list[str] = Field(description="Bases légales `document/article`.", examples=[["crpa/L312-1-1"]])
    loi: LawRef
    depuis: str
    statut: str = Field(examples=["applicable"])
    motifs: list[str] = Field(description="Pourquoi l'obligation ne s'applique pas.")
    manquants: list[MissingInput] = Field(description="Ce qu'il faut savoir pour conclure.")
    conditions_remplies: list[str]
    echeances: list[DeadlineOut]
    prochaine_echeance: DeadlineOut | None
    periodicite: str | None
    resume: str | None
    note: str | None
    passages: list[CitedPassage]


class CriterionAnswer(BaseModel):
    question: str
    reponse: bool


class ProfileOut(BaseModel):
    type: str
    type_libelle: str
    population: int | None
    agents: int | None
    date: str
    criteres: dict[str, CriterionAnswer]


class ProfileResponse(BaseModel):
    """Obligations that apply, do not apply (with the reason) or cannot be decided (missing inputs)."""

    profil: ProfileOut
    applicables: list[ObligationOut]
    non_applicables: list[ObligationOut]
    indetermines: list[ObligationOut]
    criteres_disponibles: dict[str, str]
    articles_absents: list[str] = Field(
        default_factory=list, description="Articles cités absents de l'index interrogé (index partiel)."
    )
    avertissement: str | None = Field(
        default=None, description="Avertissement en français quand des articles cités manquent à l'index."
    )


# --- law impact -----------------------------------------------------------------------------------


class ImpactEventOut(BaseModel):
    date: str = Field(description="Date d'entrée en vigueur de la version.")
    nature: str = Field(examples=["modifie"])
    nature_libelle: str
    texte: str = Field(description="Le texte modificatif tel que l'historique l'écrit.")
    source: str = Field(description="historique, auteur ou legifrance.")
    texte_modifie: bool
    date_estimee: bool = Field(description="Date de la loi, faute de version datée dans l'historique.")


class ImpactArticleOut(BaseModel):
    article_id: str = Field(examples=["cgct/L5214-16"])
    document: str
    article: str
    statut: str | None
    natures: list[str]
    premiere_date: str | None
    evenements: list[ImpactEventOut]
    niveaux: list[str]
    themes: list[str]


class ImpactTheme(BaseModel):
    theme: str
    libelle: str
    articles: list[ImpactArticleOut]


class ImpactLevel(BaseModel):
    niveau: str
    libelle: str
    total_articles: int
    themes: list[ImpactTheme]


class LawOut(BaseModel):
    cle: str
    numero: str
    date: str
    nom_court: str
    titre: str
    document: str | None


class ImpactResponse(BaseModel):
    """Articles a law created, modified or abrogated, grouped by level and theme."""

    loi: LawOut
    niveau: str | None
    sources: list[str]
    total_articles: int
    par_nature: dict[str, int]
    niveaux: list[ImpactLevel]
    remarques: list[str]


# --- the answer of a search (`reponse`) -------------------------------------------------------------


class AnswerCompetence(CompetenceOut):
    """A competence of the answer, with the change that last shaped it."""

    dernier_changement: CompetenceChange | None = Field(
        description="Le dernier changement daté de la compétence ; absent quand elle n'a pas changé depuis sa loi."
    )


class AnswerLevel(BaseModel):
    """What one level of government holds on the subject."""

    niveau: str = Field(examples=["communaute-de-communes"])
    libelle: str
    categorie: str | None = Field(
        description="Catégorie de la compétence quand le niveau en a une seule sur ce sujet "
        "(obligatoire, optionnelle, facultative, partagee, chef_de_file…).",
        examples=["obligatoire"],
    )
    categorie_libelle: str | None
    competences: list[AnswerCompetence]


class AnswerObligation(ObligationOut):
    """An obligation of the answer; `statut` is the rule engine's verdict when the question gives facts."""

    statut: str | None = Field(  # type: ignore[assignment]
        description="applicable, non_applicable ou indetermine (à préciser) selon les faits de la question ; "
        "absent quand la question n'en donne pas.",
        examples=["applicable"],
    )
    conditions: str = Field(description="Les conditions de l'obligation, telles qu'écrites dans les données.")


class AnswerSubject(BaseModel):
    id: str = Field(examples=["dechets"])
    intitule: str


class AnswerWhy(BaseModel):
    """Why the search answered: the expressions and levels recognised, the facts read in the question."""

    mots: list[str] = Field(examples=[["ordures ménagères"]])
    niveaux_reconnus: list[str] = Field(examples=[["communaute-de-communes"]])
    faits: dict[str, int | str] = Field(examples=[{"type": "commune", "population": 5000}])


class Answer(BaseModel):
    """The curated knowledge's answer to the question (see docs/api.md, « Réponse »)."""

    type: str = Field(description="competence ou obligation.", examples=["competence"])
    sujets: list[AnswerSubject]
    niveaux: list[AnswerLevel] = Field(
        description="Pour une compétence : ce que détient chaque niveau concerné."
    )
    obligations: list[AnswerObligation]
    pourquoi: AnswerWhy
    articles_absents: list[str] = Field(
        default_factory=list, description="Articles cités absents de l'index interrogé (index partiel)."
    )
    avertissement: str | None = Field(
        default=None, description="Avertissement en français quand des articles cités manquent à l'index."
    )


class MechanismWhy(BaseModel):
    mots: list[str] = Field(
        description="L'expression reconnue dans la question.", examples=[["fonds de concours"]]
    )


class MechanismOut(BaseModel):
    """How a competence moves between communes and their groupings, from the curated mechanisms."""

    id: str = Field(examples=["restitution-competence"])
    intitule: str = Field(examples=["Rendre une compétence aux communes"])
    resume: str = Field(description="Ce que disent les articles cités, résumé par l'équipe.")
    base: list[str] = Field(description="Bases légales `document/article`.", examples=[["cgct/L5211-17-1"]])
    passages: list[CitedPassage]
    pourquoi: MechanismWhy


# --- the « qui fait quoi » matrix ---------------------------------------------------------------------


class MatrixChange(BaseModel):
    date: str = Field(examples=["2017-01-01"])
    loi: str = Field(examples=["Loi NOTRe"])
    resume: str | None


class MatrixCell(BaseModel):
    """What one level holds on one subject: the strongest category, its basis, dates and last change."""

    categorie: str = Field(examples=["obligatoire"])
    categorie_libelle: str
    competences: list[str] = Field(
        description="Entrées curées de ce niveau sur ce sujet.", examples=[["cc-dechets"]]
    )
    base: list[str] = Field(examples=[["cgct/L5214-16"]])
    version_date: str | None = Field(
        description="Date de version de l'article cité, quand l'index le contient."
    )
    url: str | None
    depuis: str
    note: str | None = Field(description="Conditions (seuil, date) ou précisions de l'entrée.")
    dernier_changement: MatrixChange


class MatrixRow(BaseModel):
    sujet: str = Field(examples=["dechets"])
    intitule: str
    cellules: dict[str, MatrixCell | None] = Field(
        description="Par niveau ; null quand le niveau n'a pas de compétence décrite."
    )


class MatrixTheme(BaseModel):
    theme: str
    libelle: str
    lignes: list[MatrixRow]


class MatrixLevel(BaseModel):
    id: str
    libelle: str


class MatrixResponse(BaseModel):
    """Subjects as rows (by theme), levels as columns, each cell the category with its legal basis."""

    niveaux: list[MatrixLevel]
    themes: list[MatrixTheme]
    legende: dict[str, str]


# --- the change watch ---------------------------------------------------------------------------------


class ChangeEventOut(BaseModel):
    """One dated change of an article, from a version history."""

    date: str = Field(description="Date d'entrée en vigueur de la version.", examples=["2020-01-01"])
    nature: str = Field(examples=["modifie"])
    nature_libelle: str = Field(examples=["modifié"])
    textes: list[str] = Field(
        description="Textes modificatifs tels que l'historique les écrit.",
        examples=[["Loi n°2015-991 du 7 août 2015 - art. 64 (V)"]],
    )
    source: str = Field(
        description="Fichier d'historique du corpus.", examples=["codes/cgct.amendments.jsonl"]
    )
    date_estimee: bool = Field(description="Abrogation datée par le texte abrogeant, faute de version datée.")


class ChangedArticleOut(BaseModel):
    article_id: str = Field(examples=["cgct/L5214-16"])
    document: str
    nom_court: str = Field(examples=["CGCT"])
    article: str
    url: str | None
    statut: str | None
    niveaux: list[str] = Field(description="Niveaux suivis dont l'article porte l'étiquette.")
    themes: list[str]
    derniere_date: str
    evenements: list[ChangeEventOut]


class ChangeTheme(BaseModel):
    theme: str
    libelle: str
    articles: list[ChangedArticleOut]


class EvolutionLaw(BaseModel):
    cle: str
    nom_court: str
    numero: str
    date: str


class EvolutionOut(BaseModel):
    """A curated competence of the level that took effect or changed in the period."""

    date: str
    competence: str = Field(examples=["cc-eau"])
    intitule: str
    theme: str
    categorie: str
    loi: EvolutionLaw
    resume: str | None
    base: list[str]
    citations: list[str] = Field(description="Articles cités avec leur date de version.")


class HistorySource(BaseModel):
    document: str
    nom_court: str
    consolide_au: str
    derniere_version: str
    source: str


class DocumentRef(BaseModel):
    document: str
    nom_court: str


class LaterLaw(LawOut):
    url: str
    dans_la_periode: bool = Field(description="La loi date de la période demandée.")


class CoverageOut(BaseModel):
    """What the histories cover and the laws of the corpus that tell of changes after the consolidation."""

    historiques: list[HistorySource]
    sans_historique: list[DocumentRef]
    consolide_au: str | None
    lois_posterieures: list[LaterLaw]


class ChangesResponse(BaseModel):
    """Articles of a level created, modified or abrogated since a date, by theme, with the evolutions."""

    niveau: str = Field(examples=["communaute-de-communes"])
    libelle: str
    niveaux_suivis: list[str] = Field(description="Le niveau et les groupes dont il fait partie (epci-fp).")
    theme: str | None
    depuis: str
    total_articles: int
    par_nature: dict[str, int]
    themes: list[ChangeTheme]
    evolutions: list[EvolutionOut]
    couverture: CoverageOut
    remarques: list[str]
