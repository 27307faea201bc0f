"""`python -m evaluations run|reponses|check`: score the current bundle (or the knowledge's answers) on a gold
set, or check the pinned scores."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from evaluations.answers import format_outcomes, score_answers, summary_line
from evaluations.gold import load_gold
from evaluations.pinned import EXPECTED_FILES, Expected, compare, compare_answers, load_expected
from evaluations.runner import format_table, open_retriever, run_split, write_results
from indexer.errors import QfqError
from indexer.knowledge.answer import Answerer, curated_answerer
from indexer.search.retriever import MODES, Retriever
from indexer.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m evaluations",
        description="Évaluation de la recherche sur un jeu de référence au format BEIR.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="commande")
    run = commands.add_parser(
        "run",
        help="mesure nDCG@10, Recall@5, Recall@10, MRR@10 et P@1 sur l'index publié",
        description="Pose les questions d'un jeu de référence à l'index publié (QFQ_DATA_DIR) et les note.",
    )
    run.add_argument("--gold", required=True, type=Path, help="dossier du jeu (queries.jsonl, qrels/)")
    run.add_argument("--split", default="test", help="découpage à évaluer (fichier qrels/<split>.tsv)")
    run.add_argument("--mode", default="hybrid", choices=MODES, help="mode de recherche (défaut : hybrid)")
    run.add_argument("-k", type=int, default=10, help="résultats gardés par question (défaut : 10)")
    run.add_argument("--json", action="store_true", help="n'écrire qu'un objet JSON sur la sortie standard")
    run.add_argument(
        "--resultats",
        type=Path,
        metavar="DOSSIER",
        help="écrire aussi le tableau Markdown <jeu>-<découpage>-<mode>.md dans ce dossier",
    )
    answers = commands.add_parser(
        "reponses",
        help="mesure la précision et la couverture des réponses des connaissances curées",
        description="Pose les questions du jeu aux connaissances curées (sans index) et compare les réponses "
        "montrées aux réponses attendues (metadata.reponse).",
    )
    answers.add_argument("--gold", required=True, type=Path, help="dossier du jeu (queries.jsonl, qrels/)")
    answers.add_argument("--split", default="test", help="découpage à évaluer (fichier qrels/<split>.tsv)")
    answers.add_argument(
        "--json", action="store_true", help="n'écrire qu'un objet JSON sur la sortie standard"
    )
    answers.add_argument(
        "--resultats",
        type=Path,
        metavar="DOSSIER",
        help="écrire aussi le tableau Markdown <jeu>-<découpage>-reponses.md dans ce dossier",
    )
    check = commands.add_parser(
        "check",
        help="compare les scores aux valeurs épinglées dans evaluations/expected.yaml",
        description="Rejoue chaque découpage et mode épinglé et affiche OK/FAIL avec la valeur attendue.",
    )
    check.add_argument(
        "--expected",
        type=Path,
        action="append",
        help="fichier des scores attendus, répétable (défaut : expected.yaml et expected-formel.yaml)",
    )
    return parser


def _command_line(argv: Sequence[str]) -> str:
    return " ".join(["python -m evaluations", *argv])


def _run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    out = sys.stdout
    # Libraries may print while loading; only the JSON object (or the table) goes to stdout.
    with contextlib.redirect_stdout(sys.stderr):
        gold = load_gold(args.gold, args.split)
        settings = Settings()
        print(f"Jeu {gold.name}, découpage {gold.split} : {len(gold.queries)} questions.", file=sys.stderr)
        retriever = open_retriever(settings)
        print(
            f"Index {retriever.build_id} ({retriever.manifest['model']['id']}), mode {args.mode}.",
            file=sys.stderr,
        )
        report = run_split(retriever, gold, mode=args.mode, k=args.k)
        if args.resultats is not None:
            path = write_results(report, args.resultats, _command_line(argv))
            print(f"Tableau écrit : {path}", file=sys.stderr)
    if args.json:
        out.write(json.dumps(report.to_json(), ensure_ascii=False) + "\n")
    else:
        out.write(format_table([report]) + "\n")
        b = report.bundle
        out.write(f"Index {b['build_id']} · modèle {b['model']} · {b['passages']} passages\n")
    out.flush()
    return 0


def _answers(args: argparse.Namespace, argv: Sequence[str]) -> int:
    gold = load_gold(args.gold, args.split)
    report = score_answers(gold, _answerer().answer)
    if args.resultats is not None:
        args.resultats.mkdir(parents=True, exist_ok=True)
        path = args.resultats / f"{gold.name}-{gold.split}-reponses.md"
        path.write_text(
            f"# Réponses des connaissances : {gold.name}, découpage {gold.split}\n\n"
            f"Commande : `{_command_line(argv)}`\n\n{summary_line(gold.name, [(gold.split, report)])}\n\n"
            + format_outcomes(report)
            + "\n",
            encoding="utf-8",
        )
        print(f"Tableau écrit : {path}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        print(summary_line(gold.name, [(gold.split, report)]))
    return 0


def _answerer() -> Answerer:
    answerer = curated_answerer()
    if answerer is None:
        raise QfqError(
            "Les connaissances curées sont invalides : voir le journal.", code="connaissances_invalides"
        )
    return answerer


def _check(args: argparse.Namespace) -> int:
    files = args.expected or [path for path in EXPECTED_FILES if path.is_file()]
    pinned = [load_expected(path) for path in files]
    settings = Settings()
    with contextlib.redirect_stdout(sys.stderr):
        retriever = open_retriever(settings)
    model = retriever.manifest.get("model", {}).get("id")
    print(
        f"Index {retriever.build_id} · modèle {model} · {retriever.manifest['counts']['passages']} passages"
    )
    failures = sum(_check_one(expected, retriever, model) for expected in pinned)
    print("Tout est conforme." if not failures else f"{failures} écart(s) hors tolérance.")
    return 1 if failures else 0


def _check_one(expected: Expected, retriever: Retriever, model: str | None) -> int:
    """Print the comparisons of one expected-scores file; returns the number of failures."""
    failures = 0
    print(f"Scores attendus : {expected.path} (jeu {expected.gold.name}, k = {expected.k})")
    if expected.model is not None and model != expected.model:
        failures += 1
        print(f"FAIL modèle de l'index = {model} (attendu {expected.model})")
    for split, modes in expected.scores.items():
        gold = load_gold(expected.gold, split)
        for mode in modes:
            with contextlib.redirect_stdout(sys.stderr):
                report = run_split(retriever, gold, mode=mode, k=expected.k, progress=None)
            for comparison in compare(expected, split, mode, report.metrics):
                failures += not comparison.ok
                print(comparison.line(), flush=True)
    for split in expected.answers:
        answers = score_answers(load_gold(expected.gold, split), _answerer().answer)
        measured = {"precision": answers.precision, "coverage": answers.coverage}
        for comparison in compare_answers(expected, split, measured):
            failures += not comparison.ok
            print(comparison.line(), flush=True)
    return failures


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code (1 on FAIL or on error, 2 on bad arguments)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    try:
        if args.command == "reponses":
            return _answers(args, argv)
        return _run(args, argv) if args.command == "run" else _check(args)
    except QfqError as exc:
        print(f"Erreur ({exc.code}) : {exc.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
