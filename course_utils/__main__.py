"""Command line: ``python -m course_utils <command>``.

Exit codes: 0 when every input was processed, 1 when some inputs failed (each listed with
the reason, the rest done), 2 for a usage error. Bad input never ends in a traceback.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

from . import config, datasets, jobs, public_datasets, transfer


def _generate(args: argparse.Namespace) -> int:
    from .synthetic import generate_dataset  # the command line loads only what a command needs

    spec = config.resolve_config(args.profile, seed=args.seed).synthetic
    out = Path(args.out)
    if (out / datasets.MANIFEST_NAME).exists() and not args.force:
        print(f"{out}: a dataset is already there (use --force to regenerate)")
        return 0
    start = time.perf_counter()
    frame = generate_dataset(out, spec, seed=args.seed, workers=args.workers, progress=not args.quiet,
                             overwrite=args.force)
    seconds = time.perf_counter() - start
    counts = frame["split"].value_counts().reindex(list(datasets.SPLITS), fill_value=0)
    print(f"{len(frame)} clips of {frame['label'].nunique()} classes in {seconds:.1f} s -> {out}")
    print("  " + ", ".join(f"{split}: {n}" for split, n in counts.items()))
    return 0


def _report(failures: Sequence[jobs.Failure], what: str) -> int:
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    if failures:
        print(f"{len(failures)} {what} failed (listed above); the rest were processed", file=sys.stderr)
    return 1 if failures else 0


def _manifest(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    frame, failures = datasets.scan_class_folder(root, workers=args.workers, seed=args.seed,
                                                 progress=not args.quiet)
    out = Path(args.out) if args.out else root / datasets.MANIFEST_NAME
    if frame.empty:
        _report(failures, "videos")
        print(f"{root}: no readable video; no manifest written", file=sys.stderr)
        return 1
    datasets.write_manifest(frame, out)
    print(f"{len(frame)} videos of {frame['label'].nunique()} classes -> {out}")
    return _report(failures, "videos")


def _flow(args: argparse.Namespace) -> int:
    from .cache import extract_flow_cache

    summary = extract_flow_cache(args.manifest, args.out, size=args.size, method=args.method,
                                 workers=args.workers, progress=not args.quiet)
    print(f"flow: {summary}")
    return _report(summary.failures, "videos")


def _download(args: argparse.Namespace) -> int:
    try:
        root = public_datasets.download_public_dataset(args.name, args.data_dir, progress=not args.quiet)
    except transfer.DownloadError as error:
        print(f"FAILED {error}", file=sys.stderr)
        return 1
    frame = public_datasets.prepare_public_dataset(args.name, args.data_dir, progress=not args.quiet)
    print(f"{args.name}: {len(frame)} videos of {frame['label'].nunique()} classes -> {root}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m course_utils", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="render the synthetic action dataset into OUT")
    generate.add_argument("out")
    generate.add_argument("--profile", default="ci", choices=config.PROFILES)
    generate.add_argument("--seed", type=int, default=42)
    generate.add_argument("--force", action="store_true", help="regenerate even if OUT has a dataset")
    generate.set_defaults(run=_generate)

    manifest = commands.add_parser("manifest", help="manifest CSV of a folder of class sub-folders of videos")
    manifest.add_argument("dir")
    manifest.add_argument("--out", help="CSV path (default: DIR/manifest.csv)")
    manifest.add_argument("--seed", type=int, default=0, help="seed of the subject-disjoint split")
    manifest.set_defaults(run=_manifest)

    flow = commands.add_parser("flow", help="optical-flow cache of every video of a manifest")
    flow.add_argument("manifest", help="manifest CSV or the folder holding manifest.csv")
    flow.add_argument("out")
    flow.add_argument("--size", type=int, default=None, help="resize frames to SIZE x SIZE first")
    flow.add_argument("--method", default="farneback", choices=["farneback", "tvl1"])
    flow.set_defaults(run=_flow)

    download = commands.add_parser("download", help="download, verify and unpack a public dataset (needs internet)")
    download.add_argument("name", choices=config.PUBLIC_DATASETS)
    download.add_argument("--data-dir", default=str(config.REPO_ROOT / "data"))
    download.set_defaults(run=_download)

    for command in (generate, manifest, flow, download):
        command.add_argument("--quiet", action="store_true", help="no progress bar")
    for command in (generate, manifest, flow):
        command.add_argument("--workers", type=int, default=2)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (jobs.CourseError, FileNotFoundError, NotADirectoryError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
