"""Write the results table of the last run into README.md from ``<artifacts>/results/*.json``.

The table sits between the markers ``<!-- results:start -->`` and ``<!-- results:end -->``;
every number in it is read from a results file or the runner's ``timings.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
from course_utils.runs import load_results  # noqa: E402

START, END = "<!-- results:start -->", "<!-- results:end -->"


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def results_table(artifacts_dir: Path) -> str:
    files = sorted((artifacts_dir / "results").glob("[0-9][0-9]_*.json"))
    if not files:
        raise SystemExit(f"no results in {artifacts_dir / 'results'}; run `make course` first")
    timings = {}
    timings_file = artifacts_dir / "timings.json"
    if timings_file.exists():
        timings = {r["notebook"]: r["seconds"] for r in json.loads(timings_file.read_text())["notebooks"]}
    lines = ["| notebook | profile | dataset | method | metrics | notebook time (s) |", "|---|---|---|---|---|---:|"]
    for path in files:
        result = load_results(path)
        seconds = timings.get(result["notebook"], result["timings_s"].get("total"))
        for index, (method, values) in enumerate(result["metrics"].items() or [("-", {})]):
            shown = ", ".join(f"{k} {_fmt(v)}" for k, v in values.items() if not isinstance(v, (dict, list)))
            lines.append(f"| {result['notebook'] if index == 0 else ''} | {result['profile']} | {result['dataset']} "
                         f"| {method} | {shown} | {_fmt(seconds) if index == 0 else ''} |")
    return "\n".join(lines)


def update_readme(readme: Path, table: str) -> None:
    text = readme.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{readme}: markers {START} / {END} not found")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{table}\n{END}{tail}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts-dir", default=str(REPO_ROOT / "artifacts"))
    args = parser.parse_args()
    update_readme(REPO_ROOT / "README.md", results_table(Path(args.artifacts_dir)))
    print("README.md results table updated")
