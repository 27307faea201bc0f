"""Parser for lexlib per-article markdown codes, with their version history and heading paths."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from indexer.corpus.parsers.common import date_in_text
from indexer.models import Article, Document, Link, Status
from indexer.text.normalize import normalize_whitespace

FILE_NAME = re.compile(r"^Article (?P<number>.+?) - (?P<legiarti>\d+)\.md$")
LINKS_MARKER = "**Liens relatifs à cet article**"
NOTA_MARKER = "**Nota:**"
LINK_HEADINGS = {
    "Codifié par": "codifie",
    "Créé par": "cree",
    "Modifié par": "modifie",
    "Transféré par": "transfere",
    "Abrogé par": "abroge",
    "Cite": "cite",
    "Cité par": "cite_par",
    "Anciens textes": "anciens_textes",
    "Nouveaux textes": "nouveaux_textes",
}
_LINK_HEADING = re.compile(r"^_(?P<heading>[^_]+)_\s*:\s*$")
_LINK_ITEM = re.compile(r"^\s*-\s+(?P<text>.+?)\s*$")


@dataclass
class ArticleHistory:
    """Versions of one article file (one LEGIARTI) from `<key>.amendments.jsonl`."""

    last_version_date: str = ""
    first_version_date: str = ""
    amending_texts: list[str] = field(default_factory=list)

    def add(self, entry: dict) -> None:
        """Take one line of `<key>.amendments.jsonl` into account."""
        version_date = str(entry.get("version_date") or "")
        if entry.get("change") != "removed" and version_date > self.last_version_date:
            self.last_version_date = version_date
        if not self.first_version_date or version_date < self.first_version_date:
            self.first_version_date = version_date
        for kind in ("Créé par", "Modifié par", "Transféré par"):
            for text in (entry.get("version_links") or {}).get(kind, []):
                if text not in self.amending_texts:
                    self.amending_texts.append(text)


def split_markdown(raw: str) -> tuple[str, str, str, str]:
    """Split a lexlib file into (number heading, body, nota, links block)."""
    heading, _, rest = raw.partition("\n")
    body, _, links = rest.partition(LINKS_MARKER)
    body, _, nota = body.partition(NOTA_MARKER)
    return heading.removeprefix("#").strip(), body, nota, links


def parse_links(block: str) -> list[Link]:
    """Parse the "Liens relatifs" block: `_Créé par_:` headings followed by `- item` lines."""
    links: list[Link] = []
    kind = ""
    for line in block.splitlines():
        heading = _LINK_HEADING.match(line.strip())
        if heading:
            kind = LINK_HEADINGS.get(heading.group("heading").strip(), "")
            continue
        item = _LINK_ITEM.match(line)
        if item and kind:
            text = item.group("text")
            links.append(Link(kind=kind, text=text, date=date_in_text(text)))
    return links


def load_histories(path: Path) -> dict[tuple[str, str], ArticleHistory]:
    """History per (article number, LEGIARTI digits): version dates and the texts that changed it.

    The key includes the number because LEGI sometimes reuses the digits of an abrogated article
    (environnement R*213-33 and R213-33 share 6835384).
    """
    histories: dict[tuple[str, str], ArticleHistory] = defaultdict(ArticleHistory)
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            entry = json.loads(line)
            histories[(str(entry["article"]), str(entry["legiarti"]))].add(entry)
    return dict(histories)


def load_structure(path: Path) -> dict[str, list[str]]:
    """Heading path per article number from `structure/<key>.structure.jsonl` (2015 headings)."""
    if not path.is_file():
        return {}
    structure = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                entry = json.loads(line)
                structure[str(entry["article"])] = [str(h) for h in entry.get("path", [])]
    return structure


def _number_key(number: str) -> tuple:
    """Natural sort key: L5214-9 < L5214-16 < L5214-16-1."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", number))


class HeadingResolver:
    """Finds an article's heading path, inferring it from chapter neighbours for post-2015 articles.

    In these codes the number encodes the place (L5214-x: chapter IV of title I of book II of part 5), so
    the nearest preceding article of the same chapter shares the article's headings.
    """

    def __init__(self, structure: dict[str, list[str]]) -> None:
        self._structure = structure
        self._by_chapter: dict[str, list[tuple[tuple, str]]] = defaultdict(list)
        for number in structure:
            self._by_chapter[number.split("-")[0]].append((_number_key(number), number))
        for entries in self._by_chapter.values():
            entries.sort()

    def resolve(self, number: str) -> tuple[list[str], bool]:
        """Return (heading path, inferred?)."""
        if number in self._structure:
            return self._structure[number], False
        neighbours = self._by_chapter.get(number.split("-")[0])
        if not neighbours:
            return [], False
        key = _number_key(number)
        best = neighbours[0][1]
        for neighbour_key, neighbour in neighbours:
            try:
                if neighbour_key > key:
                    break
            except TypeError:
                continue
            best = neighbour
        return self._structure[best], True


def lexlib_status(links: list[Link], history: ArticleHistory | None, today: date | None = None) -> Status:
    """Abrogated when the file carries an "Abrogé par" list; a first version still ahead is "à venir".

    The dump keeps abrogated article files in place; their only mark is the "Abrogé par" list (the
    abrogation usually takes effect at the file's last version date, so dates cannot overrule it).
    """
    if any(link.kind == "abroge" for link in links):
        return Status.ABROGE
    today_iso = (today or date.today()).isoformat()
    if history and history.first_version_date > today_iso:
        return Status.A_VENIR
    return Status.EN_VIGUEUR


def read_article_file(
    doc: Document,
    corpus_dir: Path,
    path: Path,
    history: ArticleHistory | None,
    headings: HeadingResolver,
) -> Article | None:
    """One `Article <number> - <LEGIARTI digits>.md` file as an `Article`, or None when it has no text.

    Args:
        doc: the code the file belongs to.
        corpus_dir: the corpus folder (source paths are recorded relative to it).
        path: the article file; its name must match `FILE_NAME`.
        history: the version history of this LEGIARTI, if the corpus has one.
        headings: the code's heading paths.
    """
    match = FILE_NAME.match(path.name)
    if match is None:
        raise ValueError(f"not an article file name: {path.name}")
    number_heading, body, nota, links_block = split_markdown(path.read_text(encoding="utf-8"))
    number = number_heading.removeprefix("Article").strip() or match.group("number")
    text = normalize_whitespace(body)
    if nota.strip():
        note = normalize_whitespace(nota)
        text = f"{text}\n\nNota : {note}" if text else note
    if not text:
        return None
    links = parse_links(links_block)
    heading_path, inferred = headings.resolve(number)
    return Article(
        doc_key=doc.key,
        number=number,
        text=text,
        heading_path=list(heading_path),
        status=lexlib_status(links, history),
        date_debut=history.last_version_date if history else "",
        links=links,
        source_file=str(path.relative_to(corpus_dir)),
        legi_id=f"LEGIARTI{int(match.group('legiarti')):012d}",
        amending_texts=list(history.amending_texts) if history else [],
        heading_inferred=inferred,
    )


class LexlibMarkdownParser:
    """`codes/<key>/…/Article <number> - <LEGIARTI digits>.md` files of a lexlib repository."""

    format = "lexlib-markdown"

    def parse(self, doc: Document, corpus_dir: Path) -> list[Article]:
        root = corpus_dir / doc.path
        histories = load_histories(corpus_dir / doc.amendments) if doc.amendments else {}
        headings = HeadingResolver(load_structure(corpus_dir / "structure" / f"{doc.key}.structure.jsonl"))
        articles = []
        for path in sorted(root.rglob("Article *.md")):
            match = FILE_NAME.match(path.name)
            if not match:
                continue
            history = histories.get((match.group("number"), match.group("legiarti")))
            article = read_article_file(doc, corpus_dir, path, history, headings)
            if article is not None:
                articles.append(article)
        return articles
