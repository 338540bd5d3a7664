"""Command line: ``python -m course_utils <command>``.

Exit codes:

* 0: every input was processed;
* 1: some inputs failed (each listed by file name with the reason); the rest were processed;
* 2: the command could not run as given: a usage error, an input that is missing or is not
  what the command reads, an output that cannot be written (the message names the path and
  the problem) or that the course did not create (it is never overwritten or deleted);
* 130: interrupted (Ctrl-C): what was complete is kept, and the same command resumes.

Bad input and ordinary environment errors (read-only folders, a full disk) never end in a
traceback, and outputs are checked for writability before any work starts.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

from . import config, datasets, jobs, public_datasets, transfer

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
RESUME = "run the same command again"


class CommandError(jobs.CourseError):
    """The command cannot run as given; the message names the path and the problem."""


def _absolute(path: str | Path) -> Path:
    """``path`` made absolute (without resolving links), so every message names the full path."""
    return Path(os.path.abspath(Path(path).expanduser()))


# --------------------------------------------------------------------------- generate


def _generate_message(error: datasets.DatasetError) -> str:
    """The generator's message in the words of the command line (``--force``, not ``overwrite=True``)."""
    return re.sub(r"overwrite=True(?:\s*\(--force on the command line\))?", "--force", str(error))


def _generate(args: argparse.Namespace) -> int:
    from .synthetic import CARD_NAME, generate_dataset  # the command line loads only what a command needs

    spec = config.resolve_config(args.profile, seed=args.seed).synthetic
    out = _absolute(args.out)
    jobs.check_writable(out.parent, folder=True)  # the dataset is built beside OUT, then renamed into place
    jobs.check_writable(out, folder=True)
    existed = (out / datasets.MANIFEST_NAME).is_file() and (out / CARD_NAME).is_file()
    start = time.perf_counter()
    try:
        frame = generate_dataset(out, spec, seed=args.seed, workers=args.workers, progress=not args.quiet,
                                 overwrite=args.force)
    except datasets.DatasetError as error:
        raise CommandError(_generate_message(error)) from None
    if existed and not args.force:
        print(f"{out}: already holds the dataset of profile {args.profile!r} and seed {args.seed} "
              f"({len(frame)} clips); nothing to do")
        return EXIT_OK
    seconds = time.perf_counter() - start
    counts = frame["split"].value_counts().reindex(list(datasets.SPLITS), fill_value=0)
    print(f"{len(frame)} clips of {frame['label'].nunique()} classes in {seconds:.1f} s -> {out}")
    print("  " + ", ".join(f"{split}: {n}" for split, n in counts.items()))
    return EXIT_OK


def _generate_interrupted(args: argparse.Namespace) -> str:
    return (f"interrupted: nothing was written to {_absolute(args.out)} (a dataset appears there only when "
            f"complete; one that was there is unchanged); {RESUME} to generate it")


# --------------------------------------------------------------------------- manifest


def _is_course_manifest(path: Path) -> bool:
    """Whether ``path`` starts with the header :func:`datasets.write_manifest` writes."""
    try:
        with open(path, encoding="utf-8") as handle:
            header = handle.readline(1 << 16).strip().split(",")
    except (OSError, UnicodeDecodeError):
        return False
    return header[:len(datasets.MANIFEST_COLUMNS)] == datasets.MANIFEST_COLUMNS


def _refuse_foreign_manifest(out: Path) -> None:
    """Never overwrite a file the course did not create, nor a generated dataset's own manifest."""
    from .synthetic import CARD_NAME

    if out.name == datasets.MANIFEST_NAME and (out.parent / CARD_NAME).is_file():
        raise CommandError(f"{out}: is the manifest of a generated synthetic dataset ({out.parent / CARD_NAME} is "
                           "beside it); a scan would replace its columns and splits, so it was left alone. "
                           "Use it as it is, or write the scan elsewhere with --out.")
    if out.exists() and not _is_course_manifest(out):
        raise CommandError(f"{out}: exists and is not a course manifest; it was left alone. "
                           "Choose another --out, or delete that file first.")


def _report(failures: Sequence[jobs.Failure], what: str) -> int:
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    if failures:
        print(f"{len(failures)} {what} failed (listed above); the rest were processed", file=sys.stderr)
    return EXIT_SOME_FAILED if failures else EXIT_OK


def _manifest(args: argparse.Namespace) -> int:
    root = _absolute(args.dir)
    out = _absolute(args.out) if args.out else root / datasets.MANIFEST_NAME
    if not root.is_dir():
        raise CommandError(f"{root}: not a folder; expected a folder with one sub-folder per class")
    jobs.check_writable(out, folder=False)
    _refuse_foreign_manifest(out)
    frame, failures = datasets.scan_class_folder(root, workers=args.workers, seed=args.seed,
                                                 progress=not args.quiet)
    if frame.empty:
        _report(failures, "videos")
        print(f"{root}: no readable video; no manifest written", file=sys.stderr)
        return EXIT_SOME_FAILED
    datasets.write_manifest(frame, out)
    print(f"{len(frame)} videos of {frame['label'].nunique()} classes -> {out}")
    return _report(failures, "videos")


def _manifest_interrupted(args: argparse.Namespace) -> str:
    return f"interrupted: no manifest was written; {RESUME}"


# --------------------------------------------------------------------------- flow


def _flow_size(text: str) -> int | None:
    if text.strip().lower() in ("0", "native"):
        return None
    try:
        size = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size: give pixels (an integer >= 8), "
                                         "or 0 / native for the videos' own size") from None
    if size < 8:
        raise argparse.ArgumentTypeError(f"{size} is too small: give pixels (an integer >= 8), or 0 / native")
    return size


def _flow(args: argparse.Namespace) -> int:
    from .cache import extract_flow_cache

    out = _absolute(args.out)
    jobs.check_writable(out, folder=True)
    manifest = datasets.load_manifest(_absolute(args.manifest))
    if manifest.empty:
        raise CommandError(f"{_absolute(args.manifest)}: the manifest lists no videos; nothing to compute")
    summary = extract_flow_cache(manifest, out, size=args.size, method=args.method,
                                 workers=args.workers, progress=not args.quiet)
    print(f"flow: {summary}")
    return _report(summary.failures, "videos")


def _flow_interrupted(args: argparse.Namespace) -> str:
    out = _absolute(args.out)
    kept = sum(1 for p in out.rglob("*.npy") if not p.name.startswith(".")) if out.is_dir() else 0
    return (f"interrupted: {kept} complete flow file(s) are kept in {out}; "
            f"{RESUME} to compute the rest (complete files are skipped)")


# --------------------------------------------------------------------------- download


def _download(args: argparse.Namespace) -> int:
    data_dir = _absolute(args.data_dir)
    jobs.check_writable(data_dir, folder=True)
    try:
        root = public_datasets.download_public_dataset(args.name, data_dir, progress=not args.quiet)
    except transfer.DownloadError as error:
        print(f"FAILED {error}", file=sys.stderr)
        return EXIT_SOME_FAILED
    frame = public_datasets.prepare_public_dataset(args.name, data_dir, progress=not args.quiet)
    print(f"{args.name}: {len(frame)} videos of {frame['label'].nunique()} classes -> {root}")
    return EXIT_OK


def _download_interrupted(args: argparse.Namespace) -> str:
    downloads = _absolute(args.data_dir) / args.name / "downloads"
    return f"interrupted: what was downloaded is kept in {downloads} (.part files resume); {RESUME}"


def _grade(args: argparse.Namespace) -> int:
    from . import grading  # a development tool: papermill and nbformat are imported only here

    out = _absolute(args.out)
    jobs.check_writable(out, folder=True)
    reports = grading.grade_submissions([_absolute(p) for p in args.submissions], out, notebook=args.notebook,
                                        data_dir=args.data_dir, reference_dir=args.reference, timeout=args.timeout)
    print("\n" + grading.markdown_table(reports) + f"\n\nreports: {out / 'grades.md'}, {out / 'grades.json'}")
    return EXIT_OK if all(grading.ran(r) for r in reports) else EXIT_SOME_FAILED


# --------------------------------------------------------------------------- recognize and serve

TIMELINE_SUFFIX = ".timeline.json"
"""``recognize --out X.mp4`` writes ``X.mp4.timeline.json`` beside the video: the timeline, and the
video's checksum, by which a later run knows the video is its own and may replace it."""


def _class_list(text: str | None) -> list[str] | None:
    """``--classes``: names separated by commas, a text file of one name a line, or a course manifest."""
    if text is None:
        return None
    path = _absolute(text)
    if path.is_file():
        if _is_course_manifest(path):
            return datasets.class_names(datasets.load_manifest(path))
        names = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    else:
        names = [name.strip() for name in text.split(",")]
    names = [name for name in names if name]
    if not names:
        raise CommandError(f"--classes {text!r}: no class names in it")
    return names


def _load_recognizer(args: argparse.Namespace):
    from . import streaming

    model = _absolute(args.model)
    try:
        return streaming.ActionRecognizer.load(
            model, _class_list(args.classes), num_threads=args.threads,
            flow_model=_absolute(args.flow_model) if args.flow_model else None, stride=args.stride,
            frame_step=args.frame_step, smoothing=args.smoothing, alpha=args.alpha, hysteresis=args.hysteresis)
    except ValueError as error:  # a value the recognizer rejects (argparse checked the types)
        raise CommandError(f"{model}: {error}") from None


def _check_annotated_out(out: Path, source: Path) -> Path:
    """The timeline file of ``out``; refuse an ``out`` that ``recognize`` did not write."""
    jobs.check_writable(out, folder=False)
    record = out.with_name(out.name + TIMELINE_SUFFIX)
    if out.resolve() == source.resolve():
        raise CommandError(f"{out}: is the input video; choose another --out")
    if out.exists():
        try:
            sha = json.loads(record.read_text())["video"]["sha256"]
        except (OSError, ValueError, KeyError, TypeError):
            sha = None
        if sha != jobs.sha256_file(out):
            raise CommandError(f"{out}: exists and was not written by recognize (no {record.name} beside it that "
                               "matches it); it was left alone. Choose another --out, or delete that file first.")
    return record


def _recognize(args: argparse.Namespace) -> int:
    from . import serving, streaming, video

    source = _absolute(args.video)
    out = _absolute(args.out) if args.out else None
    record = _check_annotated_out(out, source) if out else None
    recognizer = _load_recognizer(args)
    try:
        result = serving.recognize(recognizer, source, out=out, threads=args.decode_threads)
    except video.VideoError as error:
        raise CommandError(f"{error.path}: {error.problem}") from None
    stats = result.stats
    print(f"{source}: {result.frames} frames at {result.fps:.2f} fps, {len(result.results)} window(s) of "
          f"{recognizer.window} frames (every {recognizer.frame_step}, stride {recognizer.stride}), "
          f"{recognizer.smoother.kind} smoothing, model {Path(args.model).name}")
    if result.padded:
        print(f"  shorter than one window ({recognizer.span} frames): scored once with its last frame repeated")
    print(streaming.timeline_table(result.segments)[["start_s", "end_s", "label", "confidence"]].to_string(index=False))
    cost = stats.summary()
    print(f"{cost['frames_per_s']:.0f} frames/s ({cost['realtime_factor']:.1f}x real time), "
          f"{cost['model_ms_per_window']:.2f} ms per window, latency {cost['latency_ms_median']:.2f} ms (median)")
    if out:
        serving.write_timeline_json(result, record, Path(args.model).name, out)
        print(f"annotated video -> {out} (timeline: {record.name})")
    return EXIT_OK


def _check_listenable(host: str, port: int) -> None:
    """Refuse, before loading anything, an address the server could not listen on."""
    import socket

    try:
        with socket.create_server((host, port), reuse_port=False) as probe:
            probe.close()
    except OSError as error:
        problem = os.strerror(error.errno) if error.errno else str(error)
        raise CommandError(f"{host}:{port}: cannot listen there ({problem}); choose another "
                           "--port or --host") from None


def _serve(args: argparse.Namespace) -> int:
    from . import serving, streaming

    uvicorn = streaming.require("uvicorn", "the REST service")
    _check_listenable(args.host, args.port)
    recognizer = _load_recognizer(args)
    app = serving.create_app(recognizer, max_bytes=int(args.max_mb * 1024 * 1024), model_name=Path(args.model).name)
    print(f"serving {Path(args.model).name} on http://{args.host}:{args.port} (docs: /docs, health: /health); "
          "Ctrl-C stops it", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return EXIT_OK


def _recognizer_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--model", required=True, help="a .tflite, .onnx, .keras file or a SavedModel folder (its model "
                                                    "card beside it gives the classes)")
    sub.add_argument("--classes", help="class names of a model without a card: comma-separated, a file of one name "
                                       "a line, or the dataset's manifest.csv")
    sub.add_argument("--flow-model", help="a temporal-stream model (07's flow_cnn) fused with --model, on flow "
                                          "computed online")
    sub.add_argument("--stride", type=_positive, default=8, help="frames between windows (default 8)")
    sub.add_argument("--frame-step", type=_positive, default=1,
                     help="take every N-th frame into a window (default 1)")
    sub.add_argument("--smoothing", default="ema", choices=["ema", "average", "none"])
    sub.add_argument("--alpha", type=float, default=0.3, help="EMA weight of the newest window (default 0.3)")
    sub.add_argument("--hysteresis", type=float, default=0.1,
                     help="margin another class must lead by to change the label (default 0.1)")
    sub.add_argument("--threads", type=_positive, default=1, help="model threads (default 1)")


# --------------------------------------------------------------------------- parser and main


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m course_utils", description=__doc__.splitlines()[0],
                                     epilog="exit codes: 0 all inputs processed, 1 some inputs failed (listed), "
                                            "2 usage or environment error (nothing changed), 130 interrupted")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, run: Callable, interrupted: Callable, **kwargs) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, **kwargs)
        sub.set_defaults(run=run, interrupted=interrupted)
        return sub

    generate = command("generate", _generate, _generate_interrupted,
                       help="render the synthetic action dataset into OUT")
    generate.add_argument("out")
    generate.add_argument("--profile", default="ci", choices=config.PROFILES)
    generate.add_argument("--seed", type=int, default=42)
    generate.add_argument("--force", action="store_true",
                          help="replace a dataset the course generated in OUT with another seed or profile "
                               "(never a folder the course did not create)")

    manifest = command("manifest", _manifest, _manifest_interrupted,
                       help="manifest CSV of a folder of class sub-folders of videos")
    manifest.add_argument("dir")
    manifest.add_argument("--out", help="CSV path (default: DIR/manifest.csv); an existing file is replaced "
                                        "only if it is a course manifest")
    manifest.add_argument("--seed", type=int, default=0, help="seed of the subject-disjoint split")

    from .cache import DEFAULT_FLOW_SIZE

    flow = command("flow", _flow, _flow_interrupted, help="optical-flow cache of every video of a manifest")
    flow.add_argument("manifest", help="manifest CSV or the folder holding manifest.csv")
    flow.add_argument("out")
    flow.add_argument("--size", type=_flow_size, default=DEFAULT_FLOW_SIZE,
                      help=f"resize frames to SIZE x SIZE pixels first (default {DEFAULT_FLOW_SIZE}, the size the "
                           "course uses); 0 or native keeps the videos' own size (slow on large video)")
    flow.add_argument("--method", default="farneback", choices=["farneback", "tvl1"])

    download = command("download", _download, _download_interrupted,
                       help="download, verify and unpack a public dataset (needs internet)")
    download.add_argument("name", choices=config.PUBLIC_DATASETS)
    download.add_argument("--data-dir", default=str(config.REPO_ROOT / "data"))

    grade = command("grade", _grade, lambda args: f"interrupted: the reports of finished submissions are in {args.out}",
                    help="run submitted notebooks in the ci profile with the hidden tests and score each exercise")
    grade.add_argument("submissions", nargs="+", metavar="SUBMISSION.ipynb")
    grade.add_argument("--notebook", help="the course notebook (NN_name) of every submission (default: from "
                                          "its metadata or file name)")
    grade.add_argument("--out", default=str(config.REPO_ROOT / "artifacts" / "grades"),
                       help="folder of grades.json, grades.md and the graded notebooks")
    grade.add_argument("--data-dir", default=None, help="datasets (default: the course's data folder)")
    grade.add_argument("--reference", default=None, help="artifacts folder of a run whose results/*.json metrics "
                                                         "the graded run must reproduce")
    grade.add_argument("--timeout", type=_positive, default=600, help="seconds allowed per cell (default 600)")

    recognize = command("recognize", _recognize, lambda args: "interrupted: no annotated video was written",
                        help="the action timeline of a video (sliding windows, smoothed), optionally annotated")
    recognize.add_argument("video")
    recognize.add_argument("--out", help="write the live view (label and confidence on every frame) to this .mp4 "
                                         "or .avi, with its timeline JSON beside it")
    recognize.add_argument("--decode-threads", type=_positive, default=None,
                           help="video decoder threads (default: OpenCV's)")
    _recognizer_options(recognize)

    serve = command("serve", _serve, lambda args: "stopped", help="a REST service: upload a video, get its timeline")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--max-mb", type=float, default=50.0, help="largest upload in MiB (default 50)")
    _recognizer_options(serve)

    for sub in (generate, manifest, flow, download):
        sub.add_argument("--quiet", action="store_true", help="no progress bar")
    for sub in (generate, manifest, flow):
        sub.add_argument("--workers", type=_positive, default=2)
    return parser


def _describe(error: BaseException) -> str:
    if isinstance(error, jobs.CourseError):
        return str(error)
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror or error}"
    return str(error)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        jobs.shutdown_pool(kill=True)
        print(args.interrupted(args), file=sys.stderr)
        return EXIT_INTERRUPTED
    except (jobs.CourseError, OSError) as error:
        print(f"error: {_describe(error)}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C while parsing or importing, before a command ran
        print(f"interrupted before any work; {RESUME}", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
