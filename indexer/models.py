"""Records shared by every stage: corpus documents, parsed articles and passages."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from indexer.text.headings import heading_context


class Status(StrEnum):
    """In-force status of a provision, as Légifrance labels it."""

    EN_VIGUEUR = "en_vigueur"
    ABROGE = "abroge"
    A_VENIR = "a_venir"


STATUS_LABELS = {
    Status.EN_VIGUEUR: "en vigueur",
    Status.ABROGE: "abrogé",
    Status.A_VENIR: "à venir (pas encore en vigueur)",
}


@dataclass(frozen=True)
class Document:
    """One `[[documents]]` entry of the corpus manifest."""

    key: str
    title: str
    short_name: str
    kind: str
    official_id: str
    url: str
    format: str
    path: str
    version_date: str
    source: str
    licence: str
    head_version_date: str = ""
    amendments: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Link:
    """A relation between a provision and another text (creating, modifying, abrogating...)."""

    kind: str  # cree, modifie, abroge, codifie, transfere, cite, cite_par, anciens_textes, nouveaux_textes
    text: str  # e.g. "Loi n°2015-991 du 7 août 2015 - art. 64 (V)"
    date: str = ""  # ISO date when known

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class Article:
    """A unit as the source gives it: a code or law article, a guide section or a PDF page run."""

    doc_key: str
    number: str  # "L5214-16", "35", or a section slug for guides
    text: str
    heading_path: list[str] = field(default_factory=list)
    title: str = ""  # section heading for guides
    status: Status = Status.EN_VIGUEUR
    date_debut: str = ""
    date_fin: str = ""
    links: list[Link] = field(default_factory=list)
    pages: list[int] = field(default_factory=list)
    source_file: str = ""
    is_guide_section: bool = False
    legi_id: str = ""  # LEGIARTI id when known
    amending_texts: list[str] = field(default_factory=list)  # texts that created or modified it, all versions
    heading_inferred: bool = False  # heading path taken from a chapter neighbour


@dataclass(frozen=True)
class ArticleTags:
    """The levels and themes of one article (union over its passages), with its link and status."""

    levels: tuple[str, ...]
    themes: tuple[str, ...]
    url: str = ""
    status: str = ""


@dataclass
class Passage:
    """A searchable, citable piece of an article, with its metadata."""

    id: str
    doc_key: str
    doc_title: str
    short_name: str
    kind: str
    article: str
    part: int  # 0 for a whole article, n >= 1 for the n-th part of a split article
    text: str  # original wording, whitespace normalised, context header excluded
    header: str  # short context header repeated on each part
    heading_path: list[str]
    status: Status
    date_debut: str
    date_fin: str
    version_date: str
    links: list[Link]
    url: str
    pages: list[int]
    levels: list[str]
    themes: list[str]
    tag_reasons: dict[str, list[str]]
    title: str = ""
    amended_by: list[str] = field(default_factory=list)

    @property
    def article_id(self) -> str:
        """`doc_key/article`: the granularity evaluations and citations use."""
        return f"{self.doc_key}/{self.article}"

    def embedding_text(self) -> str:
        """Text given to the encoder: context header, the subject of the nearest headings, then the wording."""
        context = heading_context(self.heading_path, skip=self.title)
        return "\n".join(part for part in (self.header, context, self.text) if part)

    def citation(self) -> str:
        """A French citation, e.g. `CGCT, art. L5214-16 (version du 2020-10-28)`."""
        where = f"art. {self.article}" if self.kind != "guide" else (self.title or self.article)
        return f"{self.short_name}, {where} (version du {self.version_date})"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = str(self.status)
        data["article_id"] = self.article_id
        data["citation"] = self.citation()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Passage:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["status"] = Status(fields["status"])
        fields["links"] = [Link(**link) for link in fields.get("links", [])]
        return cls(**fields)
