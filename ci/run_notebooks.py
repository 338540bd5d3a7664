"""Execute the course notebooks in order with papermill and print a time table.

Used by `make course` and by the notebook tests. Executed notebooks go to
``<artifacts>/notebooks/``, beside each one ``NN_name.log``: what its kernel and the libraries
under it wrote to stderr (TensorFlow's C++ notices, multiprocessing warnings), so the terminal
shows only the time table. Each notebook writes its own ``<artifacts>/results/NN_name.json``.
Exits non-zero, naming the notebook, the failing cell and the kernel log, on the first error.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"


def discover(only: list[str] | None = None, folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The course notebooks in order, optionally only those whose number or name is in ``only``."""
    notebooks = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if only:
        wanted = set(only)
        notebooks = [nb for nb in notebooks if nb.stem[:2] in wanted or nb.stem in wanted]
        known = {nb.stem[:2] for nb in notebooks} | {nb.stem for nb in notebooks}
        unknown = wanted - known
        if unknown:
            raise SystemExit(f"no notebook matches {sorted(unknown)} in {folder.name}/")
    return notebooks


def describe_failure(error: Exception) -> str:
    """Cell (its ``In [n]`` in the executed notebook) and error of a papermill failure, in one line."""
    count = getattr(error, "exec_count", None)
    cell = f"In [{count}]" if count else f"index {getattr(error, 'cell_index', '?')}"
    ename = getattr(error, "ename", type(error).__name__)
    evalue = getattr(error, "evalue", str(error))
    return f"cell {cell}: {ename}: {str(evalue).strip().splitlines()[-1] if str(evalue).strip() else ''}"


def relative_to_notebook(value, notebook: Path):
    """A path parameter inside the repository as seen from the notebook's folder (the kernel's
    working directory), so executed notebooks show ``../artifacts``, not this machine's layout."""
    if not isinstance(value, str) or not os.path.isabs(value):
        return value
    path = Path(value).resolve()
    return os.path.relpath(path, notebook.parent) if REPO_ROOT in path.parents or path == REPO_ROOT else value


def _publishable_metadata(executed: Path) -> None:
    """Papermill records the notebook's input and output paths; keep them repository-relative."""
    import nbformat

    notebook = nbformat.read(executed, as_version=4)
    meta = notebook.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):
        if meta.get(key) and REPO_ROOT in Path(meta[key]).resolve().parents:
            meta[key] = Path(meta[key]).resolve().relative_to(REPO_ROOT).as_posix()
    nbformat.write(notebook, executed)


KERNEL_ARGUMENTS = ["--IPKernelApp.capture_fd_output=False", "--IPKernelApp.log_level=ERROR"]
"""TensorFlow's C++ logs (oneDNN notices, tf.data graph notes) stay out of the executed notebooks:
what the kernel writes to its own stderr is not a cell's output (:func:`kernel_log` keeps it). The
kernel's own start-up warnings (ipykernel 7.3+ warns of its local TCP sockets) are not printed."""


@contextlib.contextmanager
def kernel_log(path: Path):
    """Send everything written to this process's stderr, and to that of the processes it starts
    meanwhile (the kernel and its workers inherit it), to the file ``path``."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(path, "wb") as log:
            os.dup2(log.fileno(), 2)
            yield path
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def run(notebooks: list[Path], parameters: dict, artifacts_dir: Path, log_output: bool = False) -> list[dict]:
    """Execute ``notebooks`` in order; stop at the first failure. Returns one row per notebook run."""
    import papermill as pm

    out_dir = artifacts_dir / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    rows = []
    for notebook in notebooks:
        start = time.perf_counter()
        status = "ok"
        try:  # with --log-output the terminal shows everything
            with contextlib.nullcontext() if log_output else kernel_log(out_dir / f"{notebook.stem}.log"):
                pm.execute_notebook(str(notebook), str(out_dir / notebook.name), kernel_name="python3",
                                    parameters={k: relative_to_notebook(v, notebook) for k, v in parameters.items()},
                                    language="python", cwd=str(notebook.parent), progress_bar=False,
                                    log_output=log_output, extra_arguments=KERNEL_ARGUMENTS)
        except Exception as error:  # papermill raises its own and kernel errors
            status = f"FAILED {describe_failure(error)}"
        if (out_dir / notebook.name).is_file():
            _publishable_metadata(out_dir / notebook.name)
        rows.append({"notebook": notebook.stem, "seconds": round(time.perf_counter() - start, 1),
                     "status": status})
        print(f"{notebook.stem:<28} {rows[-1]['seconds']:>8.1f} s  {status}", flush=True)
        if status != "ok":
            break
    return rows


def time_table(rows: list[dict]) -> str:
    lines = ["| notebook | seconds | status |", "|---|---:|---|"]
    lines += [f"| {r['notebook']} | {r['seconds']:.1f} | {r['status']} |" for r in rows]
    lines.append(f"| **total** | {sum(r['seconds'] for r in rows):.1f} | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="ci", choices=["ci", "laptop", "full"])
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--artifacts-dir", default=str(REPO_ROOT / "artifacts"))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--only", nargs="*", help="notebook numbers or names, e.g. 00 01")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="one more notebook parameter (VALUE read as JSON, else as text), e.g. epochs=40")
    parser.add_argument("--log-output", action="store_true", help="stream cell output to the terminal")
    parser.add_argument("--notebooks-dir", default=str(NOTEBOOKS_DIR), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    artifacts_dir = Path(args.artifacts_dir).resolve()
    parameters = {"profile": args.profile, "dataset": args.dataset, "seed": args.seed,
                  "artifacts_dir": str(artifacts_dir),
                  "data_dir": str(Path(args.data_dir).resolve()) if args.data_dir else None}
    for item in args.param:
        name, _, value = item.partition("=")
        if not name or not _:
            parser.error(f"--param {item!r}: expected NAME=VALUE")
        try:
            parameters[name] = json.loads(value)
        except json.JSONDecodeError:
            parameters[name] = value
    notebooks = discover(args.only, Path(args.notebooks_dir))
    print(f"executing {len(notebooks)} notebook(s), profile={args.profile}, dataset={args.dataset}", flush=True)
    rows = run(notebooks, parameters, artifacts_dir, log_output=args.log_output)
    table = time_table(rows)
    print("\n" + table)
    (artifacts_dir / "timings.json").write_text(json.dumps(
        {"profile": args.profile, "dataset": args.dataset, "notebooks": rows}, indent=2) + "\n")
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        stem = artifacts_dir / "notebooks" / failed[0]["notebook"]
        print(f"\n{failed[0]['notebook']} failed: {failed[0]['status']}; executed notebook with the error: "
              f"{stem.with_suffix('.ipynb')}, its kernel's log: {stem.with_suffix('.log')}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
