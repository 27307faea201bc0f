"""The package works installed as a wheel outside the repository: code, templates and curated data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from helpers.paths import REPO

_NOT_SOURCES = (".git", ".venv", "data", "build", "*.egg-info", "__pycache__", "test-artifacts", ".*_cache")


def _run(*command: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True, text=True, timeout=600)
    return done.stdout


@pytest.mark.slow
def test_installed_wheel_answers_a_profile_outside_the_repository(tmp_path: Path, corpus_dir: Path) -> None:
    wheels = tmp_path / "wheels"
    _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        wheels,
        ".",
        cwd=REPO,
    )
    wheel = next(wheels.glob("qui_fait_quoi-*.whl"))

    # A fresh environment with its own pip (this one's would first uninstall the project's editable install),
    # borrowing this environment's dependencies through a .pth file: that folder's own .pth files, among them
    # the editable install's, are not processed, so only the wheel provides the project there.
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    _run(python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        **os.environ,
        "QFQ_CORPUS_DIR": str(corpus_dir.resolve()),
        "QFQ_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": "",
    }
    code = "import indexer, qfq_corpus, service.web; print(indexer.__file__, qfq_corpus.__file__, service.web.__file__)"
    where = _run(python, "-c", code, cwd=elsewhere, env=env).split()
    assert all(Path(path).is_relative_to(venv) for path in where), where
    assert (Path(where[1]).parent / "knowledge" / "obligations.toml").is_file()
    assert (Path(where[2]).parent / "templates" / "profil.html").is_file()

    profile = json.loads(
        _run(
            venv / "bin" / "qfq",
            "profil",
            "--type",
            "commune",
            "--population",
            "8000",
            "--json",
            cwd=elsewhere,
            env=env,
        )
    )
    applicable = profile["applicables"]
    assert applicable and all(item["base"] and item["passages"] for item in applicable)
    assert any(passage["trouve"] for item in applicable for passage in item["passages"])
