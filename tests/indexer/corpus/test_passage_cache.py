"""Tests of the per-document passage cache: unchanged documents are not parsed again."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers.law_corpus import LAWS, write_law_corpus

import indexer.corpus.passage_cache as passage_cache
from indexer.corpus.passage_cache import clear_passage_cache, import_closure, load_passages_cached
from indexer.corpus.passages import load_passages
from indexer.errors import CorpusError
from indexer.index.lexical import passage_field_texts
from indexer.settings import Settings


@pytest.fixture
def law_settings(tmp_path: Path) -> Settings:
    corpus = write_law_corpus(tmp_path / "corpus", LAWS)
    return Settings(corpus_dir=corpus, data_dir=tmp_path / "data", model="fake-64")


class CountingParse:
    def __init__(self) -> None:
        self.calls: list[set[str]] = []

    def __call__(self, settings: Settings, only: set[str], strict: bool = False):
        self.calls.append(set(only))
        return load_passages(settings, only=only, strict=strict, count=lambda text: len(text.split()))


def test_second_load_parses_nothing_and_gives_the_same_passages(law_settings: Settings) -> None:
    parse = CountingParse()
    first = load_passages_cached(law_settings, parse=parse)
    assert sorted(first.parsed) == ["dechets", "eau"] and first.reused == []
    assert [p.id for p in first.passages] == ["eau/1", "eau/2", "dechets/1"]
    assert first.fields == [passage_field_texts(p) for p in first.passages]
    parse.calls.clear()
    second = load_passages_cached(law_settings, parse=parse)
    assert parse.calls == [] and sorted(second.reused) == ["dechets", "eau"]
    assert second.passages == first.passages and second.fields == first.fields


def test_a_touched_document_is_the_only_one_parsed_again(law_settings: Settings) -> None:
    parse = CountingParse()
    load_passages_cached(law_settings, parse=parse)
    path = law_settings.corpus_dir / "lois" / "eau.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["provisions"][1]["content"] += " Modifié."
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    parse.calls.clear()
    result = load_passages_cached(law_settings, parse=parse)
    assert parse.calls == [{"eau"}]
    assert result.parsed == ["eau"] and result.reused == ["dechets"]
    assert result.passages[1].text.endswith("Modifié.")


def test_only_and_clear(law_settings: Settings) -> None:
    parse = CountingParse()
    result = load_passages_cached(law_settings, only={"dechets"}, parse=parse)
    assert [d.key for d in result.documents] == ["dechets"] and parse.calls == [{"dechets"}]
    assert clear_passage_cache(law_settings) == 1
    with pytest.raises(CorpusError) as info:
        load_passages_cached(law_settings, only={"inconnu"}, parse=parse)
    assert info.value.code == "document_inconnu"


def test_a_corrupt_entry_is_parsed_again(law_settings: Settings) -> None:
    parse = CountingParse()
    load_passages_cached(law_settings, parse=parse)
    (law_settings.cache_dir / "passages" / "eau.json").write_text("{tronqué", encoding="utf-8")
    parse.calls.clear()
    result = load_passages_cached(law_settings, parse=parse)
    assert parse.calls == [{"eau"}] and len(result.passages) == 3


def _write_package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_code_closure_follows_imports_and_moves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fingerprint covers what the producers import, found from the code: a moved module changes it."""
    monkeypatch.syspath_prepend(str(tmp_path))
    _write_package(
        tmp_path / "first",
        {
            "__init__.py": "",
            "producer.py": "from first import helper\n\ndef run():\n    from first.deep import late\n",
            "helper.py": "VALUE = 1\n",
            "deep/__init__.py": "",
            "deep/late.py": "LATE = 2\n",
            "unrelated.py": "OTHER = 3\n",
        },
    )
    closure = import_closure(["first.producer"])
    assert set(closure) == {"first", "first.producer", "first.helper", "first.deep", "first.deep.late"}

    # The same module moved to another package (and its import updated) is a different closure.
    _write_package(
        tmp_path / "second",
        {
            "__init__.py": "",
            "producer.py": "from second.text import helper\n",
            "text/__init__.py": "",
            "text/helper.py": "VALUE = 1\n",
        },
    )
    moved = import_closure(["second.producer"])
    assert "second.text.helper" in moved and "second.helper" not in moved


def test_moving_a_passage_module_changes_the_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Renaming a module of the closure (same bytes, new name) gives another fingerprint: no stale cache."""
    real = import_closure(passage_cache._PRODUCERS)
    assert "indexer.text.normalize" in real and "indexer.corpus.segment" in real
    passage_cache.code_fingerprint.cache_clear()
    before = passage_cache.code_fingerprint()
    renamed = {
        ("indexer.text.moved" if name == "indexer.text.normalize" else name): path
        for name, path in real.items()
    }
    monkeypatch.setattr(passage_cache, "import_closure", lambda roots: dict(sorted(renamed.items())))
    passage_cache.code_fingerprint.cache_clear()
    try:
        assert passage_cache.code_fingerprint() != before
    finally:
        passage_cache.code_fingerprint.cache_clear()
