"""Published indexes as generations in PostgreSQL + pgvector: the only module that imports psycopg.

A generation is a verified embedded bundle copied into four tables of its own (`qfq_g<number>_passages`,
`_documents`, `_vectors`, `_terms`) and a row of `qfq_generations`. The copy, its verification against the
bundle (counts, model identity, content hash) and the switch of the one-row pointer `qfq_pointer` happen in
one transaction: readers see the old generation or the whole new one, and a build killed midway leaves
nothing behind. Search reads the tables per query; only the filter columns and the document list are kept
in memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from indexer.embedding.base import Encoder
from indexer.errors import BundleError, ConfigError
from indexer.index.bundle import Bundle, BundleManifest, check_compatible, load_bundle
from indexer.index.store import STORE_COLUMNS, merge_article_tags, passage_from_row
from indexer.models import ArticleTags, Passage
from indexer.settings import Settings

SCHEMA_VERSION = 1
CONNECT_TIMEOUT_SECONDS = 5
STATEMENT_TIMEOUT_MS = 15_000
POOL_TIMEOUT_SECONDS = 10.0
PRUNE_LOCK_TIMEOUT = "2s"  # a replica still reading an old generation delays its removal, never blocks
# A bundle built with `qfq build --index hnsw` becomes a generation with a pgvector HNSW index (approximate);
# otherwise searches scan every vector exactly, with the bundle's results.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 128
HNSW_EF_SEARCH = 400
_LOCK_KEY = 0x51465131  # advisory lock of publications and rollbacks ("QFQ1")
_PARTS = ("passages", "documents", "vectors", "terms")

# Test hook: called with a stage name during a publication ("schema", "copied", "verified"); the crash test
# sets it in a child process to SIGKILL the build before the commit.
publish_hook: Callable[[str], None] | None = None

_SCHEMA = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS qfq_generations (
    number bigserial PRIMARY KEY,
    build_id text NOT NULL UNIQUE,
    published_at timestamptz NOT NULL DEFAULT now(),
    model_setting text NOT NULL,
    model_id text NOT NULL,
    weights_hash text NOT NULL,
    dimension integer NOT NULL,
    passages integer NOT NULL,
    content_sha256 text NOT NULL,
    schema_version integer NOT NULL,
    manifest jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS qfq_pointer (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    current bigint REFERENCES qfq_generations (number),
    previous bigint REFERENCES qfq_generations (number),
    switched_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO qfq_pointer (singleton) VALUES (true) ON CONFLICT DO NOTHING;
"""

_pools: dict[str, ConnectionPool] = {}
_pools_lock = threading.Lock()


def _array(vector: Any) -> np.ndarray:
    """A pgvector value as float32 numpy (pgvector returns its `Vector` type for binary results)."""
    values = vector.to_numpy() if hasattr(vector, "to_numpy") else vector
    return np.asarray(values, dtype=np.float32)


def _hook(stage: str) -> None:
    if publish_hook is not None:
        publish_hook(stage)


def _table(number: int, part: str) -> sql.Identifier:
    return sql.Identifier(f"qfq_g{int(number)}_{part}")


def _unreachable(exc: Exception) -> BundleError:
    return BundleError(
        f"La base PostgreSQL de l'index est injoignable ou a refusé la requête : {str(exc).strip()}. "
        "Vérifiez QFQ_DATABASE_URL et l'état du serveur.",
        code="base_injoignable",
    )


def _conninfo(settings: Settings) -> str:
    if not settings.database_url:
        raise ConfigError(
            "QFQ_BACKEND=postgres demande l'adresse de la base : définissez QFQ_DATABASE_URL "
            "(par exemple postgresql://qfq@127.0.0.1:5432/qfq).",
            code="base_non_configuree",
        )
    return settings.database_url


def _connect_kwargs() -> dict[str, Any]:
    return {
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        # One search is a short exact scan: a parallel worker costs more to start than it saves, and the
        # replicas' concurrent searches already use the database's cores.
        # With an HNSW generation, a filtered search keeps scanning the graph until it has k allowed rows.
        "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c max_parallel_workers_per_gather=0 "
        f"-c hnsw.ef_search={HNSW_EF_SEARCH} -c hnsw.iterative_scan=strict_order",
        "application_name": "qfq",
    }


_with_vectors: weakref.WeakSet[psycopg.Connection[Any]] = weakref.WeakSet()


def _vector_types(connection: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    """The connection with pgvector's types registered (done once per connection, once the extension exists).

    Raises:
        BundleError: the database has no pgvector extension (`index_absent`).
    """
    if connection not in _with_vectors:
        try:
            register_vector(connection)
        except psycopg.ProgrammingError as exc:
            raise BundleError(
                "La base PostgreSQL n'a pas l'extension pgvector : aucun index n'y a été publié.",
                code="index_absent",
            ) from exc
        finally:
            connection.rollback()
        _with_vectors.add(connection)
    return connection


def _configure(connection: psycopg.Connection[Any]) -> None:
    with contextlib.suppress(BundleError):
        _vector_types(connection)


def pool(settings: Settings) -> ConnectionPool:
    """The process's connection pool to `settings.database_url` (one per URL, shared by generations).

    Its size is `QFQ_DATABASE_POOL_SIZE`, or the search threads plus two (the watcher and a spare) when 0.
    """
    url = _conninfo(settings)
    with _pools_lock:
        found = _pools.get(url)
        if found is None:
            size = settings.database_pool_size or settings.threads + 2
            found = ConnectionPool(
                url,
                min_size=1,
                max_size=max(1, size),
                # Reads need no transaction (a generation never changes), and no server-side prepared
                # statement keeps the pool usable behind PgBouncer in transaction mode.
                kwargs={**_connect_kwargs(), "autocommit": True, "prepare_threshold": None},
                configure=_configure,
                timeout=POOL_TIMEOUT_SECONDS,
                open=False,
                name="qfq",
            )
            found.open(wait=False)
            _pools[url] = found
        return found


def close_pools() -> None:
    """Close every pool this process opened (end of the service, end of the tests)."""
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for each in pools:
        each.close()


@contextmanager
def _pooled(settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    try:
        with pool(settings).connection() as connection:
            yield connection
    except PoolTimeout as exc:
        raise _unreachable(exc) from exc
    except psycopg.errors.UndefinedTable as exc:
        raise BundleError(
            "La génération d'index en service a été supprimée de la base ; le service passe à la "
            "génération publiée au prochain contrôle.",
            code="generation_absente",
        ) from exc
    except psycopg.Error as exc:
        raise _unreachable(exc) from exc


@contextmanager
def _direct(settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    """One connection outside the pool, for publications and administration (long transactions)."""
    try:
        connection = psycopg.connect(_conninfo(settings), **_connect_kwargs())
    except psycopg.Error as exc:
        raise _unreachable(exc) from exc
    try:
        with connection:
            yield connection
    except psycopg.Error as exc:
        raise _unreachable(exc) from exc
    finally:
        connection.close()


def _ensure_schema(connection: psycopg.Connection[Any]) -> None:
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY + 1,))
        connection.execute(_SCHEMA)
    _vector_types(connection)


def _lock(connection: psycopg.Connection[Any]) -> None:
    locked = connection.execute("SELECT pg_try_advisory_xact_lock(%s)", (_LOCK_KEY,)).fetchone()
    if not locked or not locked[0]:
        raise BundleError(
            "Une autre publication d'index est en cours sur cette base. Attendez sa fin avant d'en lancer "
            "une nouvelle.",
            code="construction_en_cours",
        )


# --- publication ------------------------------------------------------------------------------------------


def _create_tables(connection: psycopg.Connection[Any], number: int, dimension: int) -> None:
    columns = ", ".join(
        f"{name} {'integer' if name == 'part' else 'text'} NOT NULL" for name in STORE_COLUMNS
    )
    statements = [
        f"CREATE TABLE {{p}} (rowid integer PRIMARY KEY, {columns})",
        "CREATE INDEX ON {p} (doc_key, article)",
        "CREATE TABLE {d} (position integer PRIMARY KEY, key text NOT NULL, data text NOT NULL)",
        f"CREATE TABLE {{v}} (rowid integer PRIMARY KEY, embedding vector({int(dimension)}) NOT NULL)",
        "CREATE TABLE {t} (term text PRIMARY KEY, idf double precision NOT NULL, "
        "rowids bytea NOT NULL, weights bytea NOT NULL)",
    ]
    names = {
        "p": _table(number, "passages"),
        "d": _table(number, "documents"),
        "v": _table(number, "vectors"),
        "t": _table(number, "terms"),
    }
    for statement in statements:
        connection.execute(sql.SQL(statement).format(**names))


@dataclass
class _Digest:
    """sha256 of a generation's content, fed in row order: passages, vectors, postings."""

    passages: Any = field(default_factory=hashlib.sha256)
    vectors: Any = field(default_factory=hashlib.sha256)
    terms: Any = field(default_factory=hashlib.sha256)

    def hexdigest(self) -> str:
        return hashlib.sha256(
            "\n".join(h.hexdigest() for h in (self.passages, self.vectors, self.terms)).encode()
        ).hexdigest()


def _passage_digest(digest: _Digest, row: Mapping[str, Any]) -> None:
    digest.passages.update(json.dumps([row[name] for name in STORE_COLUMNS], ensure_ascii=False).encode())


def _term_digest(digest: _Digest, term: str, idf: float, rowids: bytes, weights: bytes) -> None:
    digest.terms.update(term.encode() + b"\0" + np.float64(idf).tobytes() + rowids + weights)


def _postings(bundle: Bundle) -> Iterator[tuple[str, float, bytes, bytes]]:
    lexical = bundle.lexical
    saturated = lexical.saturated
    for term, i in sorted(lexical.terms.items(), key=lambda item: item[1]):
        start, end = int(lexical.indptr[i]), int(lexical.indptr[i + 1])
        yield (
            term,
            float(lexical.idf[i]),
            lexical.doc_ids[start:end].astype("<i4").tobytes(),
            saturated[start:end].astype("<f4").tobytes(),
        )


def _copy(connection: psycopg.Connection[Any], number: int, bundle: Bundle) -> str:
    """Copy the bundle into the generation's tables; returns the content hash of what was sent."""
    if bundle.index is None:
        raise BundleError(
            "Un index lexical seulement (sans vecteurs) ne se publie pas dans PostgreSQL : construisez "
            "l'index complet avec « qfq build ».",
            code="index_sans_vecteurs",
        )
    index = bundle.index
    digest = _Digest()
    with connection.cursor() as cursor:
        query = sql.SQL("COPY {} (rowid, {}) FROM STDIN").format(
            _table(number, "passages"), sql.SQL(", ").join(map(sql.Identifier, STORE_COLUMNS))
        )
        with cursor.copy(query) as copy:
            for row in bundle.store.all_rows():
                _passage_digest(digest, row)
                copy.write_row([row["rowid"], *(row[name] for name in STORE_COLUMNS)])
        with cursor.copy(
            sql.SQL("COPY {} (position, key, data) FROM STDIN").format(_table(number, "documents"))
        ) as copy:
            for position, document in enumerate(bundle.store.documents()):
                copy.write_row([position, document["key"], json.dumps(document, ensure_ascii=False)])
        vectors = index.reconstruct(np.arange(index.ntotal, dtype=np.int64))
        with cursor.copy(
            sql.SQL("COPY {} (rowid, embedding) FROM STDIN WITH (FORMAT BINARY)").format(
                _table(number, "vectors")
            )
        ) as copy:
            copy.set_types(["int4", "vector"])
            for rowid, vector in enumerate(vectors):
                digest.vectors.update(np.ascontiguousarray(vector, dtype="<f4").tobytes())
                copy.write_row([rowid, vector])
        with cursor.copy(
            sql.SQL("COPY {} (term, idf, rowids, weights) FROM STDIN WITH (FORMAT BINARY)").format(
                _table(number, "terms")
            )
        ) as copy:
            copy.set_types(["text", "float8", "bytea", "bytea"])
            for term, idf, rowids, weights in _postings(bundle):
                _term_digest(digest, term, idf, rowids, weights)
                copy.write_row([term, idf, rowids, weights])
    return digest.hexdigest()


def _stored_digest(
    connection: psycopg.Connection[Any], number: int, term_order: Sequence[str]
) -> tuple[str, dict[str, int]]:
    """Content hash and row counts of a generation as the database holds it.

    Args:
        connection: the publishing connection (inside its transaction).
        number: the generation.
        term_order: the bundle's terms in term-id order, the order the sender hashed postings in.
    """
    digest = _Digest()
    counts = dict.fromkeys(_PARTS, 0)
    with connection.cursor(row_factory=dict_row) as cursor:
        cursor.execute(sql.SQL("SELECT * FROM {} ORDER BY rowid").format(_table(number, "passages")))
        for row in cursor:
            _passage_digest(digest, row)
            counts["passages"] += 1
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(_table(number, "documents")))
        counts["documents"] = int(cast(tuple[int], cursor.fetchone())[0])
        cursor.execute(
            sql.SQL("SELECT embedding FROM {} ORDER BY rowid").format(_table(number, "vectors")), binary=True
        )
        for (vector,) in cursor:
            digest.vectors.update(np.ascontiguousarray(_array(vector), dtype="<f4").tobytes())
            counts["vectors"] += 1
        cursor.execute(sql.SQL("SELECT term, idf, rowids, weights FROM {}").format(_table(number, "terms")))
        stored = {row[0]: row for row in cursor}
    counts["terms"] = len(stored)
    for term in term_order:
        found = stored.get(term)
        if found is not None:
            _term_digest(digest, found[0], float(found[1]), bytes(found[2]), bytes(found[3]))
    return digest.hexdigest(), counts


def _verify(connection: psycopg.Connection[Any], number: int, bundle: Bundle, sent: str) -> None:
    """Check the copied generation against the bundle's manifest and the hash of what was sent.

    Raises:
        BundleError: a count or the content hash differs (code `generation_invalide`).
    """
    term_order = sorted(bundle.lexical.terms, key=bundle.lexical.terms.__getitem__)
    stored, counts = _stored_digest(connection, number, term_order)
    manifest = bundle.manifest
    expected = {
        "passages": manifest["counts"]["passages"],
        "documents": len(bundle.store.documents()),
        "vectors": manifest["counts"]["passages"],
        "terms": len(term_order),
    }
    if counts != expected or stored != sent:
        raise BundleError(
            "La génération copiée dans PostgreSQL ne correspond pas à l'index construit "
            f"(lignes : {counts}, attendu : {expected} ; empreinte {stored[:12]} au lieu de {sent[:12]}). "
            "L'index en service reste inchangé.",
            code="generation_invalide",
            details={"lignes": counts, "attendu": expected},
        )


def _approximate(manifest: BundleManifest) -> bool:
    return (manifest.get("vector_index") or {}).get("kind") == "hnsw"


def _unused_build_id(connection: psycopg.Connection[Any], build_id: str) -> str:
    # Two builds of the same passages in the same second share a build id; the second gets a suffix, as a
    # second bundle folder does.
    candidate, suffix = build_id, 1
    while connection.execute("SELECT 1 FROM qfq_generations WHERE build_id = %s", (candidate,)).fetchone():
        suffix += 1
        candidate = f"{build_id}-{suffix}"
    return candidate


def publish_generation(settings: Settings, folder: Path, *, encoder: Encoder | None = None) -> str:
    """Copy a finished embedded bundle into PostgreSQL as a new generation and make it current.

    Everything (tables, rows, verification, pointer switch) is one transaction; older generations beyond
    `settings.keep_generations` are dropped afterwards.

    Args:
        settings: the settings (database URL, model, generations kept).
        folder: a finished bundle folder (see `indexer.index.build.build_bundle(publish_bundle=False)`).
        encoder: when given, the bundle must hold this model's vectors.

    Returns:
        The build id of the generation now current.

    Raises:
        BundleError: bundle invalid or for another model, copy not verified, another publication running,
            database unreachable.
    """
    bundle = load_bundle(settings, folder, encoder=encoder)
    try:
        manifest = bundle.manifest
        model = manifest["model"]
        with _direct(settings) as connection:
            _ensure_schema(connection)
            _hook("schema")
            with connection.transaction():
                _lock(connection)
                build_id = _unused_build_id(connection, bundle.build_id)
                manifest = cast(BundleManifest, {**manifest, "build_id": build_id})
                number = int(
                    cast(
                        tuple[int],
                        connection.execute("SELECT nextval('qfq_generations_number_seq')").fetchone(),
                    )[0]
                )
                _create_tables(connection, number, int(model["dimension"]))
                sent = _copy(connection, number, bundle)
                if _approximate(manifest):
                    _hook("hnsw")
                    connection.execute(
                        sql.SQL(
                            "CREATE INDEX ON {} USING hnsw (embedding vector_ip_ops) WITH (m = {}, ef_construction = {})"
                        ).format(
                            _table(number, "vectors"), sql.Literal(HNSW_M), sql.Literal(HNSW_EF_CONSTRUCTION)
                        )
                    )
                for part in _PARTS:  # fresh statistics, or the planner guesses the tables' sizes
                    connection.execute(sql.SQL("ANALYZE {}").format(_table(number, part)))
                _hook("copied")
                _verify(connection, number, bundle, sent)
                _hook("verified")
                connection.execute(
                    "INSERT INTO qfq_generations (number, build_id, model_setting, model_id, weights_hash, "
                    "dimension, passages, content_sha256, schema_version, manifest) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        number,
                        build_id,
                        model["setting"],
                        model["id"],
                        model["weights_hash"],
                        model["dimension"],
                        manifest["counts"]["passages"],
                        sent,
                        SCHEMA_VERSION,
                        json.dumps(manifest, ensure_ascii=False),
                    ),
                )
                connection.execute(
                    "UPDATE qfq_pointer SET previous = current, current = %s, switched_at = now()", (number,)
                )
        prune(settings)
        return build_id
    finally:
        bundle.close()


# --- pointer, rollback, pruning, listing -------------------------------------------------------------------


def published_generation(settings: Settings) -> str | None:
    """Build id of the generation the pointer names (None when nothing is published).

    Raises:
        BundleError: database unreachable (`base_injoignable`).
    """
    with _pooled(settings) as connection:
        try:
            row = connection.execute(
                "SELECT g.build_id FROM qfq_pointer p JOIN qfq_generations g ON g.number = p.current"
            ).fetchone()
        except psycopg.errors.UndefinedTable:
            connection.rollback()
            return None
    return None if row is None else str(row[0])


def _pointer(connection: psycopg.Connection[Any]) -> tuple[int | None, int | None]:
    row = connection.execute("SELECT current, previous FROM qfq_pointer FOR UPDATE").fetchone()
    return (None, None) if row is None else (row[0], row[1])


def _check_tables(connection: psycopg.Connection[Any], number: int, passages: int) -> None:
    try:
        with connection.transaction():
            count = connection.execute(
                sql.SQL("SELECT (SELECT count(*) FROM {}), (SELECT count(*) FROM {})").format(
                    _table(number, "passages"), _table(number, "vectors")
                )
            ).fetchone()
    except psycopg.errors.UndefinedTable as exc:
        raise BundleError(
            f"Les tables de la génération {number} sont absentes de la base.", code="index_corrompu"
        ) from exc
    if count is None or count[0] != passages or count[1] != passages:
        raise BundleError(
            f"La génération {number} est incomplète dans la base ({count} lignes au lieu de {passages}).",
            code="index_corrompu",
        )


def rollback(settings: Settings) -> str:
    """Point back to the previous generation (the current one becomes the previous), in one transaction.

    Returns:
        The build id now current.

    Raises:
        BundleError: no previous generation (`retour_impossible`), one for another model
            (`index_incompatible`), a publication running, database unreachable.
    """
    with _direct(settings) as connection:
        _ensure_schema(connection)
        with connection.transaction():
            _lock(connection)
            current, previous = _pointer(connection)
            if previous is None:
                raise BundleError(
                    "Aucune génération précédente dans la base : retour arrière impossible.",
                    code="retour_impossible",
                )
            row = connection.execute(
                "SELECT build_id, manifest, passages FROM qfq_generations WHERE number = %s", (previous,)
            ).fetchone()
            if row is None:
                raise BundleError("La génération précédente n'existe plus.", code="retour_impossible")
            check_compatible(cast(BundleManifest, row[1]), settings, None)
            _check_tables(connection, previous, int(row[2]))
            connection.execute(
                "UPDATE qfq_pointer SET current = %s, previous = %s, switched_at = now()", (previous, current)
            )
            return str(row[0])


def _drop(connection: psycopg.Connection[Any], number: int) -> None:
    with connection.transaction():
        connection.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(PRUNE_LOCK_TIMEOUT)))
        for part in _PARTS:
            connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_table(number, part)))
        connection.execute("DELETE FROM qfq_generations WHERE number = %s", (number,))


def prune(settings: Settings) -> list[int]:
    """Drop the generations beyond the `keep_generations` newest (current and previous are always kept).

    A generation still read by a replica (its tables locked past `PRUNE_LOCK_TIMEOUT`) is left for the
    next publication.

    Returns:
        The numbers of the generations dropped.
    """
    dropped = []
    with _direct(settings) as connection:
        with connection.transaction():
            current, previous = connection.execute(
                "SELECT current, previous FROM qfq_pointer"
            ).fetchone() or (
                None,
                None,
            )
            numbers = [
                int(r[0])
                for r in connection.execute("SELECT number FROM qfq_generations ORDER BY number DESC")
            ]
        keep = set(numbers[: settings.keep_generations]) | {current, previous}
        for number in numbers:
            if number in keep:
                continue
            try:
                _drop(connection, number)
                dropped.append(number)
            except psycopg.errors.LockNotAvailable:
                continue
    return dropped


def list_generations(settings: Settings) -> list[dict[str, Any]]:
    """Generations kept in the database, newest first, with their role (courant, précédent or "")."""
    with _direct(settings) as connection:
        try:
            with connection.transaction():
                pointer = connection.execute("SELECT current, previous FROM qfq_pointer").fetchone()
                rows = connection.execute(
                    "SELECT number, build_id, published_at, passages, model_id, manifest->>'built_at', "
                    "(SELECT coalesce(sum(pg_total_relation_size(to_regclass('qfq_g' || number || '_' || part))), 0) "
                    "FROM unnest(%s::text[]) AS part) "
                    "FROM qfq_generations ORDER BY number DESC",
                    (list(_PARTS),),
                ).fetchall()
        except psycopg.errors.UndefinedTable:
            return []
    current, previous = pointer or (None, None)
    return [
        {
            "build_id": build_id,
            "generation": number,
            "role": "courant" if number == current else "précédent" if number == previous else "",
            "built_at": built_at,
            "published_at": published_at.isoformat(timespec="seconds"),
            "passages": passages,
            "model": model_id,
            "bytes": int(size),
        }
        for number, build_id, published_at, passages, model_id, built_at, size in rows
    ]


# --- reading a generation ----------------------------------------------------------------------------------


class _Part:
    """Shared access of the three readers below to one generation's tables."""

    def __init__(self, settings: Settings, number: int) -> None:
        self._settings = settings
        self._number = number

    def _rows(self, query: sql.Composed, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with _pooled(self._settings) as connection:
            return connection.execute(query, params).fetchall()

    def _dict_rows(self, query: sql.Composed, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with _pooled(self._settings) as connection, connection.cursor(row_factory=dict_row) as cursor:
            cursor.execute(query, params)
            return cursor.fetchall()


class PostgresStore(_Part):
    """Passages and documents of a generation (`PassageSource`)."""

    def __init__(self, settings: Settings, number: int, passages: int) -> None:
        super().__init__(settings, number)
        self._count = passages
        self._table = _table(number, "passages")
        # The filter columns (a few MB) stay in memory: the retriever builds its masks from them, and the
        # rows of an article (named in a question, cited by an answer) are looked up without a round trip.
        self._columns = self._dict_rows(
            sql.SQL(
                "SELECT rowid, id, doc_key, kind, article, article_id, part, status, date_debut, date_fin, "
                "levels, themes, heading_path FROM {} ORDER BY rowid"
            ).format(self._table)
        )
        self._articles: dict[tuple[str, str], list[int]] = {}
        for row in sorted(self._columns, key=lambda r: (r["part"], r["rowid"])):
            self._articles.setdefault((row["doc_key"], row["article"]), []).append(int(row["rowid"]))

    def count(self) -> int:
        return self._count

    def get(self, rowids: Sequence[int]) -> list[Passage]:
        """Passages of `rowids`, in the same order.

        Raises:
            KeyError: a rowid is unknown.
        """
        wanted = [int(r) for r in rowids]
        if not wanted:
            return []
        rows = self._dict_rows(
            sql.SQL("SELECT * FROM {} WHERE rowid = ANY(%s)").format(self._table), (wanted,)
        )
        found = {int(row["rowid"]): passage_from_row(row) for row in rows}
        return [found[r] for r in wanted]

    def rowids_of_article(self, doc_key: str, article: str) -> list[int]:
        """Rows of the passages of one article, in part order."""
        return list(self._articles.get((doc_key, article), ()))

    def filter_columns(self) -> list[dict[str, Any]]:
        """Per-row metadata used to build filter masks, in rowid order."""
        return self._columns

    def article_tags(self) -> dict[str, ArticleTags]:
        """Levels and themes of every article (union over its parts), with its link and status: one query."""
        query = sql.SQL("SELECT article_id, levels, themes, url, status FROM {} ORDER BY rowid")
        return merge_article_tags(self._rows(query.format(self._table)))

    def documents(self) -> list[dict[str, Any]]:
        rows = self._rows(
            sql.SQL("SELECT data FROM {} ORDER BY position").format(_table(self._number, "documents"))
        )
        return [json.loads(row[0]) for row in rows]


class PostgresVectors(_Part):
    """Exact inner-product search with pgvector's `<#>` over a generation's vectors (`DenseSource`)."""

    def __init__(
        self, settings: Settings, number: int, ntotal: int, dim: int, approximate: bool = False
    ) -> None:
        super().__init__(settings, number)
        self._ntotal = ntotal
        self._dim = dim
        self._table = _table(number, "vectors")
        # The HNSW index serves `ORDER BY distance LIMIT k` only: no tie-break on rowid then.
        self._order = sql.SQL("distance") if approximate else sql.SQL("distance, rowid")

    @property
    def ntotal(self) -> int:
        return self._ntotal

    @property
    def dim(self) -> int:
        return self._dim

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best `k` rows per query among `allowed` (a boolean mask), best first, padded with -1."""
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        where, restricted = self._restriction(allowed)
        if where is None:
            return scores, ids
        query = sql.SQL(
            # `<#>` is the negative inner product; ordering by the output column computes it once per row.
            "SELECT rowid, embedding <#> %(q)s AS distance FROM {} {} ORDER BY {} LIMIT %(k)s"
        ).format(self._table, where, self._order)
        for i, vector in enumerate(queries):
            params: dict[str, Any] = {"q": vector, "k": int(k)}
            if restricted is not None:
                params["rows"] = restricted
            with _pooled(self._settings) as connection:
                rows = _vector_types(connection).execute(query, params).fetchall()
            for j, (rowid, distance) in enumerate(rows):
                ids[i, j] = int(rowid)
                scores[i, j] = -float(distance)
        return scores, ids

    def _restriction(self, allowed: np.ndarray | None) -> tuple[sql.SQL | None, list[int] | None]:
        """The WHERE clause of a filter mask and its row list (None, None: nothing allowed).

        The shorter list is sent: the rows kept, or the rows left out (the default filter leaves out only
        the abrogated passages).
        """
        if allowed is None:
            return sql.SQL(""), None
        kept = int(np.count_nonzero(allowed))
        if kept == 0:
            return None, None
        if kept == len(allowed):
            return sql.SQL(""), None
        if kept <= len(allowed) - kept:
            return sql.SQL("WHERE rowid = ANY(%(rows)s)"), np.flatnonzero(allowed).tolist()
        return sql.SQL("WHERE NOT (rowid = ANY(%(rows)s))"), np.flatnonzero(~allowed).tolist()

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        """Stored vectors of `ids`, shape (len(ids), dim).

        Raises:
            KeyError: an id is unknown.
        """
        wanted = [int(i) for i in np.asarray(ids, dtype=np.int64)]
        if not wanted:
            return np.zeros((0, self._dim), dtype=np.float32)
        with _pooled(self._settings) as connection:
            rows = (
                _vector_types(connection)
                .execute(
                    sql.SQL("SELECT rowid, embedding FROM {} WHERE rowid = ANY(%s)").format(self._table),
                    (wanted,),
                    binary=True,  # pgvector's binary format reads as numpy directly; its text is parsed in Python
                )
                .fetchall()
            )
        found = {int(rowid): _array(vector) for rowid, vector in rows}
        return np.stack([found[i] for i in wanted])


class PostgresLexical(_Part):
    """BM25 from a generation's postings, summed exactly as `LexicalIndex.scores` does (`LexicalSource`)."""

    def __init__(self, settings: Settings, number: int, n_rows: int) -> None:
        super().__init__(settings, number)
        self._n_rows = n_rows
        self._table = _table(number, "terms")

    @property
    def n_rows(self) -> int:
        return self._n_rows

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        out = np.zeros(self._n_rows, dtype=np.float32)
        distinct = list(dict.fromkeys(tokens))
        if not distinct:
            return out
        rows = self._rows(
            sql.SQL("SELECT term, idf, rowids, weights FROM {} WHERE term = ANY(%s)").format(self._table),
            (distinct,),
        )
        postings = {row[0]: row for row in rows}
        # Same order and float32 arithmetic as the embedded postings: identical scores.
        for token in distinct:
            found = postings.get(token)
            if found is None:
                continue
            rowids = np.frombuffer(found[2], dtype="<i4")
            out[rowids] += np.float32(found[1]) * np.frombuffer(found[3], dtype="<f4")
        return out


@dataclass
class Generation:
    """A published generation opened for search (`IndexSource`): metadata in memory, the rest in the base."""

    number: int
    manifest: BundleManifest
    store: PostgresStore
    index: PostgresVectors
    lexical: PostgresLexical

    @property
    def build_id(self) -> str:
        return str(self.manifest["build_id"])

    def close(self) -> None:
        """Nothing to release: connections belong to the process's pool."""


def open_generation(settings: Settings, encoder: Encoder | None = None) -> Generation:
    """Open the generation the pointer names, refusing one built for another model.

    Raises:
        BundleError: nothing published (`index_absent`), another model (`index_incompatible`), tables
            missing or incomplete (`index_corrompu`), database unreachable (`base_injoignable`).
    """
    with _pooled(settings) as connection:
        try:
            row = connection.execute(
                "SELECT g.number, g.manifest, g.passages FROM qfq_pointer p "
                "JOIN qfq_generations g ON g.number = p.current"
            ).fetchone()
        except psycopg.errors.UndefinedTable:
            row = None
        if row is None:
            raise BundleError(
                "Aucune génération d'index publiée dans la base PostgreSQL. Construisez-la avec "
                "« qfq build » (QFQ_BACKEND=postgres).",
                code="index_absent",
            )
        number, manifest, passages = int(row[0]), cast(BundleManifest, row[1]), int(row[2])
        check_compatible(manifest, settings, encoder)
        _check_tables(connection, number, passages)
    dim = int(manifest["model"]["dimension"])
    return Generation(
        number=number,
        manifest=manifest,
        store=PostgresStore(settings, number, passages),
        index=PostgresVectors(settings, number, passages, dim, approximate=_approximate(manifest)),
        lexical=PostgresLexical(settings, number, passages),
    )
