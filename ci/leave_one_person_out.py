"""Leave-one-person-out evaluation of notebooks 04 and 05 on a folder of class sub-folders.

For each person (the ``subject`` the manifest reads from the file names) the script writes a
fold folder with its own ``manifest.csv`` (the videos stay where they are): that person's
videos are ``test``, the last repetition of every other (person, class) is ``val``, the rest
``train``. It then executes 04 and 05 (or those of ``--notebooks``) on each fold, fits notebook 01's
linear probes (one frame's appearance; frame differences in time order) on the same training clips,
and prints the test accuracy per fold::

    python ci/leave_one_person_out.py CLASS_TREE OUT [--epochs 40] [--batch-size 4] [--image-size 48]
                                     [--notebooks 04 05]

The course-made pretrained weights of 05 are made once (at ``--image-size``) and shared by the folds.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_notebooks  # noqa: E402

from course_utils import config, datasets, features, pretraining, runs  # noqa: E402

NOTEBOOKS = {"04": "04_cnn3d_scratch", "05": "05_mobilenetv2_lstm"}


def fold_manifests(frame: pd.DataFrame, out: Path) -> dict[str, Path]:
    """One fold folder per subject under ``out``, each with a manifest.csv; ``{subject: folder}``."""
    folds = {}
    for subject in sorted(frame["subject"].unique()):
        fold = frame.copy()
        others = fold["subject"] != subject
        last = fold[others].sort_values("path").groupby(["subject", "label"]).tail(1).index
        fold["split"] = "train"
        fold.loc[~others, "split"] = "test"
        fold.loc[last, "split"] = "val"
        folder = out / f"fold-{subject}"
        datasets.write_manifest(fold, folder / datasets.MANIFEST_NAME)
        folds[subject] = folder
    return folds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", type=Path, help="a folder of class sub-folders of videos")
    parser.add_argument("out", type=Path, help="where the fold manifests and each fold's artifacts go")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--image-size", type=int, default=48, help="the frame side the clip models see")
    parser.add_argument("--notebooks", nargs="+", choices=sorted(NOTEBOOKS), default=sorted(NOTEBOOKS))
    args = parser.parse_args(argv)
    frame, failures = datasets.scan_class_folder(args.tree, progress=False)
    for failure in failures:
        print(f"skipped {failure}")
    folds = fold_manifests(frame, args.out.resolve())
    extra = {"04": ["--param=ablation_epochs=0"]}
    if "05" in args.notebooks:
        cfg = config.resolve_config("ci", artifacts_dir=args.out.resolve() / "shared", image_size=args.image_size)
        weights, _ = pretraining.pretrain_backbone(cfg, "mobilenet_v2", alpha=0.35)
        extra["05"] = [f"--param=weights={weights}"]
    common = [f"--param=epochs={args.epochs}", f"--param=batch_size={args.batch_size}",
              f"--param=image_size={args.image_size}"]
    rows = []
    for subject, folder in folds.items():
        artifacts = folder / "artifacts"
        for notebook in args.notebooks:
            code = run_notebooks.main(["--only", notebook, "--dataset", str(folder), "--artifacts-dir", str(artifacts),
                                       *common, *extra.get(notebook, [])])
            if code:
                return code
        probes = features.lesson_probes(datasets.load_manifest(folder / datasets.MANIFEST_NAME), progress=False)
        for probe in ("appearance", "motion"):
            rows.append({"held-out person": subject, "model": f"01 {probe} probe",
                         "test accuracy": probes[probe]["test_accuracy"]})
        for name in (NOTEBOOKS[n] for n in args.notebooks):
            for model, m in runs.load_results(artifacts / "results" / f"{name}.json")["metrics"].items():
                rows.append({"held-out person": subject, "model": f"{name[:2]} {model}", "test accuracy": m["test_accuracy"]})
    table = pd.DataFrame(rows).pivot(index="model", columns="held-out person", values="test accuracy")
    table["mean"] = table.mean(axis=1)
    print(table.round(3).to_string())
    (args.out / "leave_one_person_out.json").write_text(json.dumps(table.round(4).to_dict(), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
