"""The ``full`` profile on HMDB51 split 1, offline and on fixtures: notebooks 06-08's path.

A tiny HMDB51-shaped tree (3 classes, clips named like HMDB51's, official-format split files with
train, test and unused clips) goes through what the notebooks call with
``resolve_config("full", dataset="hmdb51", ...)`` at small sizes: the manifest and its validation
split, the spatial stream on ``weights="imagenet"`` (Keras' download replaced by local weight files
in the ImageNet files' format), mixed precision and ``MirroredStrategy`` (two GPUs claimed, run on
the CPU), the flow cache and the temporal stream, late fusion of the saved scores, and notebook 08.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

tf = pytest.importorskip("tensorflow")
import h5py  # noqa: E402
import keras  # noqa: E402
from keras.src.legacy.saving import legacy_h5_format  # noqa: E402  (the format of Keras' ImageNet files)
from keras.src.utils import file_utils  # noqa: E402  (keras.applications download through it)

from conftest import load_ci_script  # noqa: E402
from course_utils import (catalog, config, datasets, evaluation, fusion, models, runs, streams,  # noqa: E402
                          temporal, training)
from course_utils import public_datasets as pdata  # noqa: E402

CLASSES = ("clap", "walk", "wave")
# source video -> clips cut from it and its official code in split 1 (1 train, 2 test, 0 unused);
# splits 2 and 3 swap Film_A and Film_D, so a manifest of another split would show it
SOURCES = {"Film_A": (2, 1), "Film_B": (2, 1), "Home_C": (2, 1), "Film_D": (2, 2), "Outtake_E": (1, 0)}
SWAPPED = {"Film_A": 2, "Film_D": 1}
SIZE, FLOW_STACK, SEGMENTS, LENGTH = 32, 32, 2, 4
FRAMES_OF = {"train": 2, "val": 3, "test": 3}  # 06's train_segments and test_frames
FAKE_GPUS = ["/physical_device:GPU:0", "/physical_device:GPU:1"]
# MobileNetV2's ImageNet files exist for 96-224 px; Keras loads the 224 px one at the test's 32 px, as at 07's 112
pytestmark = pytest.mark.filterwarnings("ignore:`input_shape` is undefined or non-square:UserWarning")


def clip_name(source: str, label: str, index: int) -> str:
    return f"{source}_{label}_u_nm_np1_fr_goo_{index}.avi"


@dataclasses.dataclass(frozen=True)
class Tree:
    data_dir: Path
    manifests: Path  # what data_manifests/ would hold, derived from the fixture's split files


@pytest.fixture(scope="module")
def hmdb51(tmp_path_factory, write_clip) -> Tree:
    base = tmp_path_factory.mktemp("hmdb51_fixture")
    splits, manifests = base / "testTrainMulti_7030_splits", base / "manifests"
    splits.mkdir()
    for c, label in enumerate(CLASSES):
        lines = {1: [], 2: [], 3: []}
        for s, (source, (clips, code)) in enumerate(SOURCES.items()):
            for i in range(clips):
                name = clip_name(source, label, i)
                write_clip(base / "data" / "hmdb51" / label / name, frames=12 + 2 * i + s, seed=10 * c + s)
                for k in lines:
                    lines[k].append(f"{name} {code if k == 1 else SWAPPED.get(source, code)}")
        for k, rows in lines.items():
            (splits / f"{label}_test_split{k}.txt").write_text("\n".join(rows) + "\n")
    for stem, frame in pdata.hmdb51_manifests(splits).items():
        datasets.write_manifest(frame, manifests / f"{stem}.csv")
    return Tree(base / "data", manifests)


def save_imagenet_format(model: keras.Model, path: Path) -> Path:
    """``model``'s weights as Keras' ImageNet ``*_notop.h5`` files hold them (legacy HDF5 layout)."""
    with h5py.File(path, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, model)
    return path


def first_kernel(model: keras.Model) -> np.ndarray:
    return temporal.first_conv(model).get_weights()[0]


# --------------------------------------------------------------------------- names and the manifest


def test_hmdb51_source_is_the_video_a_clip_was_cut_from():
    assert pdata.hmdb51_source("brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi", "brush_hair") == \
        "brush_hair/April_09"
    assert pdata.hmdb51_source("brush_hair/Aussie_Brunette_Brushing_Hair_II_brush_hair_u_nm_np1_ri_med_3.avi",
                               "brush_hair") == "brush_hair/Aussie_Brunette_Brushing_Hair_II"
    with pytest.raises(datasets.DatasetError, match=r"wave/clip7\.avi: not an HMDB51 clip name"):
        pdata.hmdb51_source("wave/clip7.avi", "wave")


@pytest.mark.parametrize("name, val", [("hmdb51", 510), ("ucf101", 1305)])
def test_committed_split1_gets_a_validation_split_of_whole_sources(name, val):
    committed = pdata.public_manifest(name, 1)
    groups = pdata.SOURCES[name].validation_groups(committed)  # every committed clip name parses
    assert (committed.groupby(groups)["split"].nunique() == 1).all()  # as the official split keeps them
    carved = datasets.carve_validation(committed, groups, pdata.VALIDATION_FRACTION)
    assert (carved.groupby(groups)["split"].nunique() == 1).all()
    assert carved["split"].value_counts()["val"] == val
    assert carved["split"].eq("test").equals(committed["split"].eq("test"))  # test is the official one
    per_class = carved.groupby("label")["split"].value_counts().unstack()
    assert per_class["val"].min() >= 1 and per_class["train"].min() > per_class["val"].max()


def test_full_profile_prepares_hmdb51_split1_with_a_validation_split(hmdb51, tmp_path, monkeypatch):
    monkeypatch.setattr(pdata, "DATA_MANIFESTS_DIR", hmdb51.manifests)
    with pytest.raises(config.ConfigError, match="hmdb51, ucf101"):
        config.resolve_config("full", "hmdb51_split1")  # the split is not part of the name: split 1 is used
    cfg = config.resolve_config("full", "hmdb51", hmdb51.data_dir, tmp_path, image_size=SIZE, epochs=1, batch_size=2)
    assert (cfg.weights, cfg.mixed_precision, cfg.dataset_root) == ("imagenet", True, hmdb51.data_dir / "hmdb51")
    manifest = catalog.prepare_dataset(cfg, workers=1, progress=False)

    groups = pdata.SOURCES["hmdb51"].validation_groups(manifest)
    sources = groups.str.split("/").str[1]
    assert set(sources) == set(SOURCES) - {"Outtake_E"}  # unused in split 1: on disk, in no split
    assert set(manifest.loc[sources == "Film_D", "split"]) == {"test"}  # split 1's test clips, not split 2's
    counts = manifest.groupby(["label", "split"]).size().unstack()
    assert counts.to_dict("list") == {"test": [2, 2, 2], "train": [4, 4, 4], "val": [2, 2, 2]}
    assert (manifest.groupby(groups)["split"].nunique() == 1).all()  # no source video in two splits
    assert set(manifest.loc[manifest["split"] == "val", "path"]) <= set(
        pdata.public_manifest("hmdb51", 1).query("split == 'train'")["path"])  # val comes out of the official train
    assert manifest["frames"].ge(12).all() and manifest["sha256"].str.len().eq(64).all()

    written = datasets.load_manifest(hmdb51.data_dir / "hmdb51")
    pd.testing.assert_frame_equal(written, manifest)
    other_seed = config.resolve_config("full", "hmdb51", hmdb51.data_dir, tmp_path, seed=7)
    again = catalog.prepare_dataset(other_seed, workers=1, progress=False)
    assert again["split"].tolist() == manifest["split"].tolist()  # the same split for every run and seed


def test_carve_validation_moves_whole_groups_and_keeps_one_for_training():
    # a: three groups of 2 train clips, a target of 2 (one group, whichever the hash puts first);
    # b: one group, kept for training; c: two groups of 3, a target of 1: the first is moved anyway
    groups = ["a1"] * 2 + ["a2"] * 2 + ["a3"] * 2 + ["b1"] * 2 + ["c1"] * 3 + ["c2"] * 3 + ["a4"]
    frame = pd.DataFrame({"label": [g[0] for g in groups], "group": groups,
                          "split": ["train"] * (len(groups) - 1) + ["test"]})
    carved = datasets.carve_validation(frame, frame["group"], 0.34)
    assert (carved.groupby("group")["split"].nunique() == 1).all()
    assert carved.groupby(["label", "split"]).size().to_dict() == {
        ("a", "test"): 1, ("a", "train"): 4, ("a", "val"): 2, ("b", "train"): 2, ("c", "train"): 3, ("c", "val"): 3}
    assert frame["split"].eq("train").sum() == len(groups) - 1  # the input is left as it was
    pd.testing.assert_frame_equal(datasets.carve_validation(frame, frame["group"], 0.34), carved)


# --------------------------------------------------------------------------- 06, 07 and 08 on the fixture


@pytest.fixture(scope="module")
def full_run(hmdb51, tmp_path_factory) -> dict[str, Any]:
    """Notebooks 06 and 07's calls with the ``full`` profile, two GPUs claimed and ImageNet weights
    served from local files; what the tests check is recorded while the patches are on."""
    artifacts = tmp_path_factory.mktemp("full_artifacts")
    weights_dir = tmp_path_factory.mktemp("imagenet_weights")
    resnet = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(SIZE, SIZE, 3))
    mobilenet = keras.applications.MobileNetV2(weights=None, include_top=False, alpha=0.35,
                                               input_shape=(FLOW_STACK, FLOW_STACK, 3))
    served = {"resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5": resnet,
              "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5": mobilenet}
    files = {name: save_imagenet_format(model, weights_dir / name) for name, model in served.items()}
    fetched: list[str] = []

    def get_file(fname, origin=None, **options):
        if fname not in files:
            raise AssertionError(f"the test serves no {fname} (from {origin})")
        fetched.append(fname)
        return str(files[fname])

    out: dict[str, Any] = {"artifacts": artifacts, "fetched": fetched}
    list_devices = tf.config.list_physical_devices
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(pdata, "DATA_MANIFESTS_DIR", hmdb51.manifests)
            patch.setattr(tf.config, "list_physical_devices",
                          lambda kind=None: list(FAKE_GPUS) if kind == "GPU" else list_devices(kind))
            patch.setattr(file_utils, "get_file", get_file)

            # 06: training.start_clip_notebook, models.build_backbone(weights=cfg.weights), the streams steps
            setup = training.start_clip_notebook("full", "hmdb51", hmdb51.data_dir, artifacts, 42, workers=1,
                                                 image_size=SIZE, batch_size=2)
            cfg, names = setup.cfg, setup.class_names
            out.update(cfg=cfg, names=names, table=setup.table, strategy=setup.strategy,
                       policy=keras.mixed_precision.global_policy().name)
            backbone = models.build_backbone("resnet50", SIZE, cfg.weights)
            out["resnet_loaded"] = np.array_equal(first_kernel(backbone), first_kernel(resnet))
            out["backbone_policy"] = backbone.dtype_policy.name
            trunk, last_stage = models.split_backbone(backbone, "resnet50")
            cached = streams.trunk_maps(cfg, setup.table, trunk, "resnet50", cfg.weights, FRAMES_OF)
            frame_model, _, warm = streams.warm_up(cfg, last_stage, cached, len(names), epochs=2)
            _, tuned = streams.fine_tune(cfg, last_stage, frame_model, cached, epochs=1)
            spatial_model = streams.test_model(frame_model, cached)
            arrays = {split: cached.arrays(split, names) for split in fusion.SPLITS}
            out.update(maps=cached.maps, warm=warm, tuned=tuned, spatial_dtype=spatial_model.output.dtype,
                       spatial=evaluation.evaluate(spatial_model, arrays["test"], time_checks=False),
                       spatial_file=evaluation.save_stream_scores(cfg, "spatial", spatial_model, arrays),
                       scene_column="scene_is_preferred" in cached.data["test"].videos)

            # 07: its settings, the flow cache at the profile's size, flow_cnn under the strategy, cross-modality
            settings = config.video_model_settings("full", epochs=1, batch_size=2, image_size=FLOW_STACK)
            cfg7, _ = runs.start_notebook("full", "hmdb51", hmdb51.data_dir, artifacts, 42, **settings)
            strategy = training.configure(cfg7)
            manifest = catalog.prepare_dataset(cfg7, workers=1, progress=False)
            flow_table = temporal.prepare_flow(cfg7, manifest, size=temporal.default_flow_size("full"), workers=2)
            data = temporal.flow_datasets_for(cfg7, flow_table, segments=SEGMENTS, length=LENGTH)
            with strategy.scope():
                flow_model = models.build_model("flow_cnn", data["train"].dataset.element_spec[0].shape[1:], len(names))
            run = training.fit(flow_model, data["train"], data["val"], artifacts / "runs" / "07_flow_cnn", epochs=1,
                               seed=cfg7.seed, learning_rate=3e-3)
            rgb = models.build_backbone("mobilenet_v2", cfg7.image_size, cfg7.weights, alpha=0.35)
            flow_net = temporal.cross_modality_clone(rgb, 2 * LENGTH)
            out.update(flow_table=flow_table, flow_data=data, flow_run=run, flow_strategy=strategy,
                       flow_dtype=flow_model.output.dtype,
                       temporal=evaluation.evaluate(flow_model, data["test"], time_checks=False),
                       temporal_file=evaluation.save_stream_scores(cfg7, "temporal", flow_model,
                                                                   {split: data[split] for split in fusion.SPLITS}),
                       mobilenet_loaded=np.array_equal(first_kernel(rgb), first_kernel(mobilenet)),
                       flow_kernel=first_kernel(flow_net), rgb_kernel=first_kernel(rgb))
    finally:  # the policy the patched GPUs chose would reach the tests that follow
        keras.mixed_precision.set_global_policy("float32")
    return out


def test_full_profile_runtime_is_mixed_precision_under_mirrored_strategy(full_run):
    assert full_run["policy"] == "mixed_float16" and full_run["backbone_policy"] == "mixed_float16"
    assert isinstance(full_run["strategy"], tf.distribute.MirroredStrategy)
    assert isinstance(full_run["flow_strategy"], tf.distribute.MirroredStrategy)
    assert full_run["spatial_dtype"] == "float32" and full_run["flow_dtype"] == "float32"  # float32 softmax
    assert not isinstance(training.choose_strategy(FAKE_GPUS[:1]), tf.distribute.MirroredStrategy)  # one GPU


def test_spatial_stream_starts_from_imagenet_weights_and_saves_scores(full_run):
    assert full_run["fetched"] == ["resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",  # 06, then 07's
                                   "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"]
    assert full_run["resnet_loaded"]  # the served file's weights, not a random start
    maps, names = full_run["maps"], full_run["names"]
    assert names == list(CLASSES)
    assert {split: m.shape for split, m in maps.items()} == {"train": (12, 2, 2, 2, 1024), "val": (6, 3, 2, 2, 1024),
                                                             "test": (6, 3, 2, 2, 1024)}
    assert all(m.dtype == np.float32 and np.isfinite(m).all() for m in maps.values())
    assert len(full_run["warm"].history["val_accuracy"]) == 2 and len(full_run["tuned"].history["loss"]) == 1
    spatial = full_run["spatial"]
    assert spatial.probs.shape == (6, 3) and np.allclose(spatial.probs.sum(axis=1), 1.0, atol=1e-3)
    assert 0.0 <= spatial.metrics["test_accuracy"] <= 1.0
    # What 06's synthetic-only sections test for, absent here: they skip.
    assert evaluation.motion_pairs(names) == [] and not full_run["scene_column"]
    assert not any("_vs_" in key for key in spatial.metrics)
    assert full_run["spatial_file"] == full_run["artifacts"] / "scores" / "hmdb51-full" / "spatial.npz"


def test_temporal_stream_runs_on_the_flow_of_the_real_videos(full_run):
    table, data = full_run["flow_table"], full_run["flow_data"]
    folder = full_run["cfg"].cache_dir / "flow-farneback-224"
    assert len(table) == 24 and all(Path(p).parent.parent == folder for p in table["flow_path"])
    for row in table.itertuples():  # one field fewer than frames, at the profile's 224 px
        assert np.load(row.flow_path, mmap_mode="r").shape == (row.frames - 1, 224, 224, 2)
    x, y = next(iter(data["train"].dataset))
    assert tuple(x.shape) == (2, SEGMENTS, FLOW_STACK, FLOW_STACK, 2 * LENGTH) and x.dtype == tf.float32
    assert {split: len(d.videos) for split, d in data.items()} == {"train": 12, "val": 6, "test": 6}
    assert len(full_run["flow_run"].history["val_accuracy"]) == 1
    assert (full_run["artifacts"] / "runs" / "07_flow_cnn" / "best.keras").is_file()
    assert full_run["temporal"].probs.shape == (6, 3)
    assert full_run["temporal_file"] == full_run["spatial_file"].with_name("temporal.npz")
    # 07's cross-modality initialisation from ImageNet's MobileNetV2 (the full profile's weights)
    assert full_run["mobilenet_loaded"]
    assert full_run["flow_kernel"].shape[2] == 2 * LENGTH
    assert np.allclose(full_run["flow_kernel"], full_run["rgb_kernel"].mean(axis=2, keepdims=True))


def test_fusion_of_the_saved_scores(full_run):
    cfg, names = full_run["cfg"], full_run["names"]
    spatial, temporal_scores = fusion.load_scores(cfg, "spatial"), fusion.load_scores(cfg, "temporal")
    table = full_run["table"]
    for split in fusion.SPLITS:
        fusion.check_aligned([spatial, temporal_scores], split)
        assert sorted(spatial[split].videos) == sorted(table.loc[table["split"] == split, "path"])
    weight, curve = fusion.choose_weight(spatial["val"], temporal_scores["val"])
    assert weight in fusion.WEIGHT_GRID and set(curve) == set(fusion.WEIGHT_GRID)
    assert curve[0.0] == pytest.approx(spatial["val"].accuracy())
    streams_of = [spatial, temporal_scores]
    learned = fusion.learned_fusion([s["val"] for s in streams_of], [s["test"] for s in streams_of])
    assert learned.shape == (6, 3) and np.allclose(learned.sum(axis=1), 1.0)
    metrics = evaluation.score_probabilities(spatial["test"].labels, learned, names, evaluation.motion_pairs(names))
    assert 0.0 <= metrics["test_accuracy_low"] <= metrics["test_accuracy"] <= metrics["test_accuracy_high"] <= 1.0


@pytest.mark.notebooks
def test_notebook_08_runs_in_the_full_profile_on_hmdb51(full_run, hmdb51):
    artifacts = full_run["artifacts"]
    code = load_ci_script("run_notebooks").main(["--only", "08", "--profile", "full", "--dataset", "hmdb51",
                                                 "--data-dir", str(hmdb51.data_dir), "--artifacts-dir", str(artifacts)])
    assert code == 0, json.loads((artifacts / "timings.json").read_text())
    result = runs.load_results(artifacts / "results" / "08_two_stream_fusion.json")
    assert (result["profile"], result["dataset"]) == ("full", "hmdb51")
    assert set(result["metrics"]) == {"spatial", "temporal", "fusion_average", "fusion_weighted", "fusion_learned",
                                      "fusion_streams"}  # no "no_context": that section skipped
    assert result["metrics"]["spatial"]["test_accuracy"] == full_run["spatial"].metrics["test_accuracy"]
    executed = (artifacts / "notebooks" / "08_two_stream_fusion.ipynb").read_text()
    assert "Skipped on `hmdb51`: this comparison needs the same videos filmed again" in executed
    assert "this run: HMDB51 split 1, full profile" in executed
    assert "Skipping `c3d_v2`: no scores of the c3d_v2 stream" in executed
    assert (artifacts / "figures" / "hmdb51" / "08_fusion_weight.png").is_file()
