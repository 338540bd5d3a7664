"""The leave-one-person-out folds of ci/leave_one_person_out.py: one fold per person, that person
only in test, one repetition of every other (person, class) in val, and manifests whose paths
point back at the videos where they are."""
from __future__ import annotations

import importlib.util

import pandas as pd

from course_utils import datasets
from course_utils.config import REPO_ROOT


def load_script():
    spec = importlib.util.spec_from_file_location("leave_one_person_out", REPO_ROOT / "ci" / "leave_one_person_out.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_person_is_held_out_once_with_a_validation_repetition_of_the_others(tmp_path):
    rows = [{"path": f"{label}/{label}_p{p}_t{t}.avi", "label": label, "subject": f"subject00{p}", "split": "train",
             "frames": 30, "fps": 30.0, "width": 64, "height": 48, "sha256": "0" * 64}
            for label in ("a", "b") for p in (1, 2, 3) for t in (1, 2, 3)]
    frame = pd.DataFrame(rows)
    tree = tmp_path / "tree"
    frame.attrs["root"] = str(tree)
    folds = load_script().fold_manifests(frame, tmp_path / "folds")
    assert sorted(folds) == ["subject001", "subject002", "subject003"]
    for subject, folder in folds.items():
        manifest = pd.read_csv(folder / datasets.MANIFEST_NAME, dtype={"subject": str})
        assert set(manifest.loc[manifest["split"] == "test", "subject"]) == {subject}
        val = manifest[manifest["split"] == "val"]
        assert len(val) == 4 and val["path"].str.endswith("_t3.avi").all() and subject not in set(val["subject"])
        assert (manifest["split"] == "train").sum() == 8
        assert (folder / manifest["path"][0]).resolve() == (tree / rows[0]["path"]).resolve()
