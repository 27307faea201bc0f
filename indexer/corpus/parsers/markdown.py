"""Parser for markdown guides: one section per heading, front matter and site markup removed."""

from __future__ import annotations

import html
import re
from pathlib import Path

from indexer.corpus.parsers.common import slugify
from indexer.models import Article, Document
from indexer.text.normalize import normalize_whitespace

_FRONT_MATTER = re.compile(r"\A---\n(?P<yaml>.*?)\n---\n", re.DOTALL)
_HEADING = re.compile(r"^(?P<hashes>#{1,4})\s+(?P<title>.+?)\s*#*\s*$")
_GITBOOK_TAG = re.compile(r"\{%.*?%\}", re.DOTALL)
_HTML_TAG = re.compile(r"<[^>]+>")
_HTML_HEADING = re.compile(r"<h([1-4])[^>]*>(.*?)</h\1>", re.DOTALL | re.IGNORECASE)
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|(?<!\w)_(?!\s)|(?<!\s)_(?!\w))")
_YAML_FIELD = re.compile(r"^(title|description):\s*(?P<value>.*)$", re.MULTILINE)


def front_matter_fields(text: str) -> tuple[dict[str, str], str]:
    """Split YAML front matter off; keep only its `title` and `description` (tool cards live there)."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    fields: dict[str, str] = {}
    yaml_text = match.group("yaml")
    for field in _YAML_FIELD.finditer(yaml_text):
        value = field.group("value").strip().strip("\"'")
        if value in {">-", ">", "|", "|-"}:
            # folded block: the indented lines that follow
            start = field.end()
            block = []
            for line in yaml_text[start:].splitlines()[1:]:
                if line.startswith("  "):
                    block.append(line.strip())
                else:
                    break
            value = " ".join(block)
        fields[field.group(1)] = value
    return fields, text[match.end() :]


def clean_markup(text: str) -> str:
    """Remove GitBook tags, HTML tags, images, link targets and emphasis; decode entities."""
    text = _GITBOOK_TAG.sub("", text)
    text = _HTML_HEADING.sub(lambda m: "\n" + "#" * int(m.group(1)) + " " + m.group(2).strip() + "\n", text)
    text = re.sub(r"</(p|li|div|section|ul|ol|h\d)>", "\n\n", text, flags=re.IGNORECASE)
    text = _HTML_TAG.sub(" ", text)
    text = _MD_IMAGE.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    text = html.unescape(text)
    text = text.replace("\\\n", "\n")
    return _EMPHASIS.sub("", text)


def split_sections(text: str, default_title: str) -> list[tuple[str, list[str], str]]:
    """Split at headings: (title, heading path, body) per section, empty bodies dropped."""
    sections: list[tuple[str, list[str], str]] = []
    stack: list[tuple[int, str]] = []
    title = default_title
    body_lines: list[str] = []

    def flush() -> None:
        body = normalize_whitespace("\n".join(body_lines))
        if body:
            sections.append((title, [t for _, t in stack[:-1]] if stack else [], body))

    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            flush()
            level = len(heading.group("hashes"))
            title = normalize_whitespace(heading.group("title"))
            stack = [entry for entry in stack if entry[0] < level] + [(level, title)]
            body_lines = []
        else:
            body_lines.append(line)
    flush()
    return sections


class MarkdownGuideParser:
    """A folder (or a single file) of markdown guide pages; `.njk` pages are read as HTML."""

    format = "markdown"

    def parse(self, doc: Document, corpus_dir: Path) -> list[Article]:
        root = corpus_dir / doc.path
        files = (
            [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.suffix in {".md", ".njk"})
        )
        articles: list[Article] = []
        used: set[str] = set()
        for path in files:
            fields, body = front_matter_fields(path.read_text(encoding="utf-8"))
            page = path.parent.name if path.stem in {"README", "index"} else path.stem
            page_title = fields.get("title") or page.replace("-", " ")
            cleaned = clean_markup(body)
            if fields.get("description") and not _HEADING.search(cleaned.split("\n", 1)[0]):
                cleaned = fields["description"] + "\n\n" + cleaned
            for title, heading_path, section_body in split_sections(cleaned, page_title):
                slug = slugify(title)
                if slug in used:
                    slug = slugify(f"{page}-{title}")
                while slug in used:
                    slug += "-bis"
                used.add(slug)
                articles.append(
                    Article(
                        doc_key=doc.key,
                        number=slug,
                        title=title,
                        text=section_body,
                        heading_path=[page_title, *heading_path] if page_title != title else heading_path,
                        source_file=str(path.relative_to(corpus_dir)),
                        is_guide_section=True,
                    )
                )
        return articles
