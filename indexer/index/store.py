"""The passage store of a bundle: one SQLite file with passages, documents and an FTS5 lexical index."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from indexer.errors import BundleError
from indexer.index.lexical import DEFAULT_FIELD_WEIGHTS, FIELDS
from indexer.models import ArticleTags, Link, Passage, Status

_JSON_COLUMNS = ("heading_path", "links", "pages", "levels", "themes", "tag_reasons", "amended_by")
_COLUMNS = (
    "id",
    "doc_key",
    "doc_title",
    "short_name",
    "kind",
    "article",
    "part",
    "text",
    "header",
    "heading_path",
    "status",
    "date_debut",
    "date_fin",
    "version_date",
    "links",
    "url",
    "pages",
    "levels",
    "themes",
    "tag_reasons",
    "title",
    "amended_by",
)
# Columns of the passages table after rowid, in table order (a PostgreSQL generation copies them).
STORE_COLUMNS = (*_COLUMNS[:6], "article_id", *_COLUMNS[6:])
# The FTS5 table holds tokens already produced by `indexer.text.normalize.analyze` (folded, stemmed, no stop
# words); unicode61 only splits them on spaces, '-' kept so "l5214-16" stays one token.
FTS_TOKENIZER = "unicode61 remove_diacritics 0 tokenchars '-'"

_SCHEMA = f"""
CREATE TABLE passages (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    doc_key TEXT NOT NULL,
    doc_title TEXT NOT NULL,
    short_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    article TEXT NOT NULL,
    article_id TEXT NOT NULL,
    part INTEGER NOT NULL,
    text TEXT NOT NULL,
    header TEXT NOT NULL,
    heading_path TEXT NOT NULL,
    status TEXT NOT NULL,
    date_debut TEXT NOT NULL,
    date_fin TEXT NOT NULL,
    version_date TEXT NOT NULL,
    links TEXT NOT NULL,
    url TEXT NOT NULL,
    pages TEXT NOT NULL,
    levels TEXT NOT NULL,
    themes TEXT NOT NULL,
    tag_reasons TEXT NOT NULL,
    title TEXT NOT NULL,
    amended_by TEXT NOT NULL
);
CREATE INDEX ix_passages_doc_key ON passages(doc_key);
CREATE INDEX ix_passages_article ON passages(doc_key, article);
CREATE INDEX ix_passages_article_id ON passages(article_id);
CREATE INDEX ix_passages_status ON passages(status);
CREATE TABLE documents (key TEXT PRIMARY KEY, position INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE VIRTUAL TABLE passages_fts USING fts5(
    {", ".join(FIELDS)}, content='', tokenize="{FTS_TOKENIZER}"
);
"""


_encode_json = json.JSONEncoder(ensure_ascii=False).encode


def _row_values(rowid: int, p: Passage) -> tuple[Any, ...]:
    # Spelled out column by column: this runs once per passage on every build.
    return (
        rowid,
        p.id,
        p.doc_key,
        p.doc_title,
        p.short_name,
        p.kind,
        p.article,
        p.article_id,
        p.part,
        p.text,
        p.header,
        _encode_json(p.heading_path),
        str(p.status),
        p.date_debut,
        p.date_fin,
        p.version_date,
        _encode_json([{"kind": k.kind, "text": k.text, "date": k.date} for k in p.links]),
        p.url,
        _encode_json(p.pages),
        _encode_json(p.levels),
        _encode_json(p.themes),
        _encode_json(p.tag_reasons),
        p.title,
        _encode_json(p.amended_by),
    )


def passage_from_row(row: Mapping[str, Any] | sqlite3.Row) -> Passage:
    """The passage of a store row (SQLite or a PostgreSQL copy of the same columns)."""
    data = {name: row[name] for name in _COLUMNS}
    for name in _JSON_COLUMNS:
        data[name] = json.loads(data[name])
    data["links"] = [Link(**link) for link in data["links"]]
    data["status"] = Status(data["status"])
    return Passage(**data)


def _joined(tokens: str | Sequence[str]) -> str:
    return tokens if isinstance(tokens, str) else " ".join(tokens)


def write_store(
    path: Path,
    passages: Sequence[Passage],
    fields: Iterable[Mapping[str, str | Sequence[str]]],
    documents: Sequence[Mapping[str, Any]],
    meta: Mapping[str, str] | None = None,
) -> None:
    """Create the store file with passages (rowid = position = vector id), documents and the FTS5 index.

    Args:
        path: the SQLite file to create (must not exist).
        passages: passages in vector-id order.
        fields: for each passage, {field: analysed tokens, as a list or joined by spaces} (see
            `indexer.index.lexical.passage_fields` and `passage_field_texts`).
        documents: one dict per document (Document fields plus counts), in manifest order.
        meta: extra key/value pairs for the `meta` table.
    """
    if path.exists():
        raise FileExistsError(path)
    connection = sqlite3.connect(path)
    try:
        # The file lives in an unpublished temporary folder and is fsynced before publishing.
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        connection.executescript(_SCHEMA)
        placeholders = ", ".join("?" * (len(_COLUMNS) + 2))
        with connection:
            connection.executemany(
                f"INSERT INTO passages (rowid, {', '.join(_COLUMNS[:6])}, article_id, "
                f"{', '.join(_COLUMNS[6:])}) VALUES ({placeholders})",
                (_row_values(i, p) for i, p in enumerate(passages)),
            )
            connection.executemany(
                f"INSERT INTO passages_fts (rowid, {', '.join(FIELDS)}) VALUES (?{', ?' * len(FIELDS)})",
                ((i, *(_joined(f.get(name, "")) for name in FIELDS)) for i, f in enumerate(fields)),
            )
            connection.executemany(
                "INSERT INTO documents (key, position, data) VALUES (?, ?, ?)",
                ((d["key"], i, json.dumps(d, ensure_ascii=False)) for i, d in enumerate(documents)),
            )
            connection.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)", sorted((meta or {}).items())
            )
        connection.execute("INSERT INTO passages_fts(passages_fts) VALUES ('optimize')")
        connection.commit()
    finally:
        connection.close()


def merge_article_tags(rows: Iterable[Sequence[Any]]) -> dict[str, ArticleTags]:
    """Article tags from passage rows (article_id, levels, themes, url, status), levels and themes as JSON
    text or lists, in row order: the union over an article's parts, its first part's link and status."""
    merged: dict[str, tuple[dict[str, None], dict[str, None], str, str]] = {}
    for article_id, levels, themes, url, status in rows:
        seen_levels, seen_themes, _, _ = merged.setdefault(str(article_id), ({}, {}, str(url), str(status)))
        seen_levels.update(dict.fromkeys(json.loads(levels) if isinstance(levels, str) else levels))
        seen_themes.update(dict.fromkeys(json.loads(themes) if isinstance(themes, str) else themes))
    return {
        article_id: ArticleTags(tuple(levels), tuple(themes), url, status)
        for article_id, (levels, themes, url, status) in merged.items()
    }


class PassageStore:
    """Read-only access to a bundle's store, safe to share between threads (one connection, one lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # immutable=1: a published bundle never changes, so SQLite can skip locking entirely.
        uri = f"{path.absolute().as_uri()}?mode=ro&immutable=1"
        try:
            self._connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._connection.row_factory = sqlite3.Row
            self._connection.execute("SELECT count(*) FROM passages").fetchone()
        except sqlite3.DatabaseError as exc:
            raise BundleError(
                f"La base des passages {path} est illisible : {exc}", code="index_corrompu"
            ) from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        self._connection.close()

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._connection.execute(sql, params).fetchall()

    def count(self) -> int:
        """Number of passages."""
        return int(self._query("SELECT count(*) FROM passages")[0][0])

    def get(self, rowids: Sequence[int]) -> list[Passage]:
        """Passages of `rowids`, in the same order.

        Raises:
            KeyError: a rowid is unknown.
        """
        if not rowids:
            return []
        wanted = [int(r) for r in rowids]
        found: dict[int, Passage] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = self._query(
                f"SELECT * FROM passages WHERE rowid IN ({', '.join('?' * len(chunk))})", chunk
            )
            found.update({int(row["rowid"]): passage_from_row(row) for row in rows})
        return [found[r] for r in wanted]

    def rowid_of(self, passage_id: str) -> int | None:
        """Row (= vector id) of a passage id, or None."""
        rows = self._query("SELECT rowid FROM passages WHERE id = ?", (passage_id,))
        return int(rows[0][0]) if rows else None

    def rowids_of_article(self, doc_key: str, article: str) -> list[int]:
        """Rows of the passages of one article, in part order."""
        rows = self._query(
            "SELECT rowid FROM passages WHERE doc_key = ? AND article = ? ORDER BY part, rowid",
            (doc_key, article),
        )
        return [int(row[0]) for row in rows]

    def all_rows(self) -> list[dict[str, Any]]:
        """Every row of the passages table as stored (`rowid` and `STORE_COLUMNS`), in rowid order."""
        rows = self._query(f"SELECT rowid, {', '.join(STORE_COLUMNS)} FROM passages ORDER BY rowid")
        return [dict(row) for row in rows]

    def filter_columns(self) -> list[sqlite3.Row]:
        """Per-row metadata used to build filter masks, in rowid order."""
        return self._query(
            "SELECT rowid, id, doc_key, kind, article, article_id, status, date_debut, date_fin, "
            "levels, themes, heading_path FROM passages ORDER BY rowid"
        )

    def article_tags(self) -> dict[str, ArticleTags]:
        """Levels and themes of every article (union over its parts), with its link and status: one query."""
        return merge_article_tags(
            self._query("SELECT article_id, levels, themes, url, status FROM passages ORDER BY rowid")
        )

    def documents(self) -> list[dict[str, Any]]:
        """Documents of the bundle (Document fields plus passage counts), in manifest order."""
        return [json.loads(row[0]) for row in self._query("SELECT data FROM documents ORDER BY position")]

    def meta(self) -> dict[str, str]:
        return {row[0]: row[1] for row in self._query("SELECT key, value FROM meta")}

    def fts_search(
        self, tokens: Sequence[str], limit: int = 100, weights: Mapping[str, float] | None = None
    ) -> list[tuple[int, float]]:
        """FTS5 bm25 search (OR of the tokens): [(rowid, positive score)], best first.

        The retriever answers from `indexer.index.lexical` (same scores, much faster); this is the SQL reference.

        Args:
            tokens: analysed tokens (see `indexer.index.lexical.query_tokens`).
            limit: maximum number of rows.
            weights: field weights (default `DEFAULT_FIELD_WEIGHTS`).

        Returns:
            Rows and scores, best first.
        """
        distinct = [t for t in dict.fromkeys(tokens) if t]
        if not distinct:
            return []
        expression = " OR ".join('"' + t.replace('"', '""') + '"' for t in distinct)
        field_weights = dict(weights or DEFAULT_FIELD_WEIGHTS)
        column_weights = ", ".join(str(float(field_weights.get(name, 1.0))) for name in FIELDS)
        rows = self._query(
            f"SELECT rowid, -bm25(passages_fts, {column_weights}) AS score FROM passages_fts "
            "WHERE passages_fts MATCH ? ORDER BY score DESC, rowid LIMIT ?",
            (expression, limit),
        )
        return [(int(row[0]), float(row[1])) for row in rows]
