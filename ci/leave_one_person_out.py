"""Leave-one-person-out evaluation of notebooks 04 and 05 on a folder of class sub-folders.

For each person (the ``subject`` the manifest reads from the file names) the script writes a
fold folder with its own ``manifest.csv`` (the videos stay where they are): that person's
videos are ``test``, the last repetition of every other (person, class) is ``val``, the rest
``train``. It then executes 04 and 05 on each fold and prints the test accuracy per fold::

    python ci/leave_one_person_out.py CLASS_TREE OUT [--epochs 40] [--batch-size 4]

The course-made pretrained weights of 05 are made once and shared by the folds.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_notebooks  # noqa: E402

from course_utils import config, datasets, pretraining, runs  # noqa: E402


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
    args = parser.parse_args(argv)
    frame, failures = datasets.scan_class_folder(args.tree, progress=False)
    for failure in failures:
        print(f"skipped {failure}")
    folds = fold_manifests(frame, args.out.resolve())
    cfg = config.resolve_config("ci", artifacts_dir=args.out.resolve() / "shared", image_size=48)
    weights, _ = pretraining.pretrain_backbone(cfg, "mobilenet_v2", alpha=0.35)
    common = [f"--param=epochs={args.epochs}", f"--param=batch_size={args.batch_size}"]
    rows = []
    for subject, folder in folds.items():
        artifacts = folder / "artifacts"
        for notebook, extra in (("04", ["--param=ablation_epochs=0"]), ("05", [f"--param=weights={weights}"])):
            code = run_notebooks.main(["--only", notebook, "--dataset", str(folder), "--artifacts-dir", str(artifacts),
                                       *common, *extra])
            if code:
                return code
        for name in ("04_cnn3d_scratch", "05_mobilenetv2_lstm"):
            for model, m in runs.load_results(artifacts / "results" / f"{name}.json")["metrics"].items():
                rows.append({"held-out person": subject, "model": f"{name[:2]} {model}", "test accuracy": m["test_accuracy"]})
    table = pd.DataFrame(rows).pivot(index="model", columns="held-out person", values="test accuracy")
    table["mean"] = table.mean(axis=1)
    print(table.round(3).to_string())
    (args.out / "leave_one_person_out.json").write_text(json.dumps(table.round(4).to_dict(), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
