"""The code's layout holds: imports point one way (no cycles, `indexer` never imports `service`), and the
packages pyproject.toml installs are the folders of the tree."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from helpers.paths import REPO

from indexer.corpus.passage_cache import imported_modules

TOP_PACKAGES = ("indexer", "service", "evaluations")


def project_modules() -> dict[str, Path]:
    """Dotted name -> file of every module of the project's packages."""
    modules: dict[str, Path] = {}
    for top in TOP_PACKAGES:
        for path in sorted((REPO / top).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> project modules it makes Python load.

    Importing `a.b.c` also runs the `__init__` of `a` and `a.b`, except the packages the importer already
    sits in (those are loaded before it).
    """
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        own = {name, *_ancestors(name)}
        targets: set[str] = set()
        for imported in imported_modules(ast.parse(path.read_bytes()), package):
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if not imported:
                continue
            targets.add(imported)
            targets.update(a for a in _ancestors(imported) if a not in own and a in modules)
        graph[name] = targets - {name}
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the components of more than one module (import cycles)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(graph) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_a_function_local_import_is_an_edge(tmp_path: Path) -> None:
    source = "def f():\n    from indexer.index import bundle\n"
    names = set(imported_modules(ast.parse(source), "indexer.search"))
    assert "indexer.index.bundle" in names


def test_no_import_cycle_in_the_project() -> None:
    modules = project_modules()
    assert len(modules) > 60
    cycles = strongly_connected(import_graph(modules))
    assert not cycles, "Cycles d'imports : " + " ; ".join(" ↔ ".join(c) for c in cycles)


def test_dependencies_point_one_way() -> None:
    """`indexer` imports neither `service` nor `evaluations`; `evaluations` does not import `service`."""
    graph = import_graph(project_modules())
    forbidden = {"indexer": ("service", "evaluations"), "evaluations": ("service",)}
    wrong = sorted(
        f"{name} -> {target}"
        for name, targets in graph.items()
        for target in targets
        if target.split(".")[0] in forbidden.get(name.split(".")[0], ())
    )
    assert not wrong, "Imports à contresens : " + ", ".join(wrong)


def test_knowledge_depends_on_protocols_not_on_parsers_or_bundles() -> None:
    graph = import_graph(project_modules())
    wrong = sorted(
        f"{name} -> {target}"
        for name, targets in graph.items()
        if name.startswith("indexer.knowledge")
        for target in targets
        if target.startswith(("indexer.corpus.parsers", "indexer.index", "indexer.search"))
    )
    assert not wrong, ", ".join(wrong)


def test_pyproject_installs_every_package_folder() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(config["packages"])
    folders = {
        ".".join(path.parent.relative_to(REPO).parts)
        for top in TOP_PACKAGES
        for path in (REPO / top).rglob("__init__.py")
    }
    assert listed - {"qfq_corpus"} == folders
    assert config["package-dir"] == {"qfq_corpus": "corpus"}
    assert (REPO / "corpus" / "__init__.py").is_file()
