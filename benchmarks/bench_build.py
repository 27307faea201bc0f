"""Full-corpus build and rebuild-after-one-document benchmark: time, passages/s, bundle size, peak memory.

Each build runs the `qfq build` command in a child process (as a user would), timed from the outside.

    python benchmarks/bench_build.py                 # full build, then rebuild after touching "reen"
    python benchmarks/bench_build.py --touch cgct    # touch another document
    python benchmarks/bench_build.py --skip-full     # only the rebuild (caches already warm)

The rebuild reads a shadow corpus in a temporary folder: symbolic links to the real files, except the
touched document, copied with one provision changed (so its passages are parsed and embedded again). Its
bundle goes to a temporary data folder that shares the real cache folder; the published bundle of the real
data folder is left alone.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from indexer.settings import Settings


def run_build(env: dict[str, str], args: list[str]) -> dict:
    """Run the build command in a child process; return wall time, peak RSS and its summary."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "service", "build", *args], cwd=REPO, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"build failed ({done.returncode})")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    found = re.search(r"Index publié : (.+)", done.stdout)
    if found is None:
        raise SystemExit(f"unexpected build output:\n{done.stdout}")
    folder = Path(found.group(1).strip())
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return {
        "seconds": seconds,
        "peak_rss_mib": max(peak, before) / 1024,
        "bundle": str(folder),
        "bundle_mib": size / 2**20,
        "passages": manifest["counts"]["passages"],
        "embedded": manifest["embedding"]["embedded"],
        "embed_seconds": manifest["embedding"]["seconds"],
        "log": done.stderr,
    }


def shadow_corpus(corpus: Path, touched: str, into: Path) -> Path:
    """Links to every corpus file, except the touched document's source: a copy with one change."""
    manifest = tomllib.loads((corpus / "manifest.toml").read_text(encoding="utf-8"))
    doc = next((d for d in manifest["documents"] if d["key"] == touched), None)
    if doc is None:
        raise SystemExit(f"unknown document {touched!r}")
    target = Path(doc["path"])
    stamp = time.time_ns()  # a new wording on every run, so the embedding cache cannot already hold it
    for root, _dirs, files in os.walk(corpus):
        rel = Path(root).relative_to(corpus)
        (into / rel).mkdir(parents=True, exist_ok=True)
        for name in files:
            source = Path(root) / name
            dest = into / rel / name
            if rel / name == target or (target in (rel / name).parents and name.endswith(".md")):
                continue
            dest.symlink_to(source)
    source = corpus / target
    if source.is_file():
        data = source.read_text(encoding="utf-8")
        if source.suffix == ".json" and '"provisions"' in data:
            parsed = json.loads(data)
            parsed["provisions"][0]["content"] += f" Phrase ajoutée par le banc d'essai {stamp}."
            data = json.dumps(parsed, ensure_ascii=False)
        (into / target).write_text(data, encoding="utf-8")
    else:
        # A folder of articles (lexlib): copy them, changing the first one.
        for i, path in enumerate(sorted(source.rglob("*.md"))):
            dest = into / target / path.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            text = path.read_text(encoding="utf-8")
            if i == 0:
                text = text.replace("\n\n", f"\n\nPhrase ajoutée par le banc d'essai {stamp}.\n\n", 1)
            dest.write_text(text, encoding="utf-8")
    return into


def report(label: str, result: dict) -> None:
    rate = result["passages"] / result["seconds"]
    embed_rate = result["embedded"] / result["embed_seconds"] if result["embed_seconds"] else 0.0
    print(
        f"{label}: {result['seconds']:.1f} s wall, {result['passages']} passages ({rate:.1f} passages/s overall), "
        f"{result['embedded']} embedded in {result['embed_seconds']:.1f} s ({embed_rate:.1f} passages/s), "
        f"bundle {result['bundle_mib']:.1f} MiB, peak RSS {result['peak_rss_mib']:.0f} MiB\n  {result['bundle']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--touch", default="reen", help="document key changed before the rebuild")
    parser.add_argument("--skip-full", action="store_true", help="skip the full build")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    settings = Settings()
    env = dict(os.environ)
    figures: dict[str, dict] = {}
    print(
        f"model {settings.model} ({settings.model_backend}), threads {settings.threads}, data {settings.data_dir}"
    )
    if not args.skip_full:
        figures["full"] = run_build(env, [])
        report("full build", figures["full"])
    with tempfile.TemporaryDirectory(prefix="qfq-bench-") as tmp:
        corpus = shadow_corpus(settings.corpus_dir.resolve(), args.touch, Path(tmp) / "corpus")
        data = Path(tmp) / "data"
        data.mkdir()
        settings.cache_dir.mkdir(parents=True, exist_ok=True)
        (data / "cache").symlink_to(settings.cache_dir.resolve())
        if settings.models_dir.exists():
            (data / "models").symlink_to(settings.models_dir.resolve())
        env_touch = {**env, "QFQ_CORPUS_DIR": str(corpus), "QFQ_DATA_DIR": str(data)}
        figures["rebuild"] = run_build(env_touch, [])
        report(f"rebuild after touching {args.touch}", figures["rebuild"])
        print(
            "  "
            + "\n  ".join(line for line in figures["rebuild"]["log"].splitlines() if "passages de" in line)
        )
        shutil.rmtree(data / "bundles", ignore_errors=True)
    if args.json:
        for value in figures.values():
            value.pop("log", None)
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
