"""Public benchmarks (HMDB51, UCF101, KTH, UTD-MHAD) through the manifest contract.

Three layers, each usable on its own:

* **Manifests.** :func:`build_split_manifests` derives one CSV per official split from the
  official split files (``data_manifests/`` holds the committed result): HMDB51 and UCF101
  ``<name>_split{1,2,3}.csv``, ``kth.csv`` (one row per annotated sub-sequence, with
  ``start_frame``/``end_frame`` columns) and ``utd_mhad.csv``. The video columns (``frames``,
  ``fps``, ``width``, ``height``, ``sha256``) stay empty until the videos are on disk.
* **Transfer** (module ``transfer``): resumable verified downloads and safe extraction.
* **Datasets.** :func:`download_public_dataset` fetches, verifies, extracts and installs a
  dataset as ``<data_dir>/<name>/<label>/<video>``; :func:`prepare_public_dataset` checks the
  videos are there, probes them once (cached) and returns the filled manifest of one split,
  with a validation split carved from ``train`` where the protocol has none.
"""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from .config import DATA_MANIFESTS_DIR, PUBLIC_DATASETS
from .datasets import (MANIFEST_COLUMNS, MANIFEST_NAME, VIDEO_SUFFIXES, DatasetError, carve_validation,
                       describe_video, load_manifest, write_manifest)
from .jobs import Failure, atomic_path, parallel_map, sha256_file
from .transfer import RAR_TOOLS_HINT, ChecksumError, DownloadError, download, unpack

VIDEO_INFO_NAME = "video_info.csv"
VALIDATION_FRACTION = 0.15
"""The share of each class's training clips :func:`prepare_public_dataset` moves to ``val`` where
the official protocol has none (HMDB51: about 10 of the 70 clips per class)."""


# ---------------------------------------------------------------------------------------------
# Manifests from the official split files
# ---------------------------------------------------------------------------------------------

def _lines(path: Path) -> list[str]:
    if not path.is_file():
        raise DatasetError(f"{path}: official split file not found")
    return [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
            if line.strip()]


def _frame(rows: list[dict], extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """Rows with path/label/subject/split (+ ``extra``) as a manifest with empty video columns."""
    frame = pd.DataFrame(rows, columns=["path", "label", "subject", "split", *extra])
    for column in MANIFEST_COLUMNS[4:]:
        frame[column] = None
    return frame[MANIFEST_COLUMNS + list(extra)].reset_index(drop=True)


def hmdb51_manifests(folder: str | Path) -> dict[str, pd.DataFrame]:
    """``hmdb51_split{k}`` from ``<class>_test_split{k}.txt`` (1 = train, 2 = test, 0 = unused).

    Unused clips (code 0) are left out of that split's manifest: the contract has no
    "unused" split. HMDB51 has no performer ids, so each clip is its own subject.
    """
    folder = Path(folder)
    out = {}
    for k in (1, 2, 3):
        files = sorted(folder.glob(f"*_test_split{k}.txt"))
        if not files:
            raise DatasetError(f"{folder}: no HMDB51 split files *_test_split{k}.txt")
        rows = []
        for file in files:
            label = file.name[:-len(f"_test_split{k}.txt")]
            for number, line in enumerate(_lines(file), 1):
                fields = line.split()
                if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
                    raise DatasetError(f"{file}:{number}: expected '<video>.avi <0|1|2>', got {line!r}")
                if fields[1] != "0":
                    rows.append({"path": f"{label}/{fields[0]}", "label": label,
                                 "subject": Path(fields[0]).stem,
                                 "split": "train" if fields[1] == "1" else "test"})
        out[f"hmdb51_split{k}"] = _frame(sorted(rows, key=lambda r: r["path"]))
    return out


# <source video>_<label>_<body part>_<camera motion>_<people>_<viewpoint>_<quality>_<clip number>
_HMDB51_TAGS = r"_[a-z]+_(?:cm|nm)_np\d+_(?:fr|ba|le|ri)_(?:bad|med|goo)_\d+"


def hmdb51_source(path: str, label: str) -> str:
    """The source video an HMDB51 clip was cut from: ``<label>/<source>`` of ``<label>/<clip>.avi``.

    A clip's name is its source video's name, the label and six meta tags
    (``April_09_brush_hair_u_nm_np1_ba_goo_0``): clips of one source share the actor and the scene,
    and the official splits keep all of a class's clips of one source on the same side.
    """
    match = re.fullmatch(rf"(.+)_{re.escape(label)}{_HMDB51_TAGS}", Path(path).stem)
    if match is None:
        raise DatasetError(f"{path}: not an HMDB51 clip name '<source>_{label}_<6 meta tags>.avi'")
    return f"{label}/{match.group(1)}"


def ucf101_manifests(folder: str | Path) -> dict[str, pd.DataFrame]:
    """``ucf101_split{k}`` from ``classInd.txt``, ``trainlist0{k}.txt`` and ``testlist0{k}.txt``.

    The subject is the UCF101 group (``g01``..``g25``): clips of one group share actor and
    scene, and the official splits never put a group in both train and test.
    """
    folder = Path(folder)
    classes = {}
    for line in _lines(folder / "classInd.txt"):
        index, name = line.split()
        classes[name] = int(index)
    out = {}
    for k in (1, 2, 3):
        rows = []
        for split, file in (("train", folder / f"trainlist0{k}.txt"), ("test", folder / f"testlist0{k}.txt")):
            for number, line in enumerate(_lines(file), 1):
                fields = line.split()
                label = fields[0].split("/")[0]
                group = re.search(r"_g(\d+)_c\d+\.avi$", fields[0])
                if label not in classes or group is None or (len(fields) > 1 and int(fields[1]) != classes[label]):
                    raise DatasetError(f"{file}:{number}: {line!r} does not match classInd.txt and the "
                                       "'<Class>/v_<Class>_gNN_cNN.avi' naming")
                rows.append({"path": fields[0], "label": label, "subject": f"g{group.group(1)}", "split": split})
        if len({r["label"] for r in rows}) != len(classes):
            raise DatasetError(f"{folder}: split {k} does not cover the {len(classes)} classes of classInd.txt")
        out[f"ucf101_split{k}"] = _frame(sorted(rows, key=lambda r: r["path"]))
    return out


KTH_MISSING = ("person13_handclapping_d3",)  # listed in 00sequences.txt, absent from the release


def kth_manifests(folder: str | Path) -> dict[str, pd.DataFrame]:
    """``kth``: one row per annotated sub-sequence of ``00sequences.txt``.

    ``start_frame``/``end_frame`` are 0-based with ``end_frame`` exclusive, so the frames of
    a row are ``frames[start_frame:end_frame]`` (the file's 1-based inclusive range
    ``a-b`` becomes ``a-1, b``). Persons are assigned to train/val/test by the standard
    split in ``README_kth_split.txt``; videos marked ``*missing*`` are left out.
    """
    folder = Path(folder)
    person_split = {}
    for line in _lines(folder / "README_kth_split.txt"):
        match = re.fullmatch(r"(train|val|test):\s*([\d\s]+)", line)
        if match:
            person_split.update({int(p): match.group(1) for p in match.group(2).split()})
    if sorted(person_split) != list(range(1, 26)):
        raise DatasetError(f"{folder / 'README_kth_split.txt'}: expected train/val/test lines covering "
                           f"persons 1..25, found {sorted(person_split)}")
    rows = []
    file = folder / "00sequences.txt"
    for number, line in enumerate(_lines(file), 1):
        name, _, rest = line.partition("\t")
        name = name.strip()
        if "*missing*" in rest:
            continue
        match = re.fullmatch(r"person(\d\d)_([a-z]+)_d[1-4]", name)
        ranges = re.findall(r"(\d+)-(\d+)", rest)
        if not match or "frames" not in rest or not ranges:
            raise DatasetError(f"{file}:{number}: expected 'personNN_<action>_dN  frames  a-b, ...', got {line!r}")
        person, action = int(match.group(1)), match.group(2)
        for start, end in ranges:
            rows.append({"path": f"{action}/{name}_uncomp.avi", "label": action, "subject": f"person{person:02d}",
                         "split": person_split[person], "start_frame": int(start) - 1, "end_frame": int(end)})
    rows.sort(key=lambda r: (r["path"], r["start_frame"]))
    return {"kth": _frame(rows, extra=("start_frame", "end_frame"))}


# The dataset page counts 861 sequences after three corrupted ones were removed; these are the
# three ids that public loaders of the dataset leave out.
UTD_MHAD_MISSING = ("a8_s1_t4", "a23_s6_t4", "a27_s8_t4")


def utd_mhad_manifests(folder: str | Path) -> dict[str, pd.DataFrame]:
    """``utd_mhad``: 27 actions x 8 subjects x 4 trials minus the 3 known-missing sequences.

    Cross-subject protocol: odd subjects (1, 3, 5, 7) train, even subjects test. Labels are
    the short names in parentheses of ``utd_mhad_actions.txt`` (``swipe_left``, ...).
    """
    file = Path(folder) / "utd_mhad_actions.txt"
    actions = {}
    for number, line in enumerate(_lines(file), 1):
        match = re.fullmatch(r"(\d+)\s+.*\((\w+)\)", line)
        if not match:
            raise DatasetError(f"{file}:{number}: expected '<n> <description> (<short_name>)', got {line!r}")
        actions[int(match.group(1))] = match.group(2)
    if sorted(actions) != list(range(1, 28)):
        raise DatasetError(f"{file}: expected actions 1..27, found {sorted(actions)}")
    rows = [{"path": f"{actions[a]}/a{a}_s{s}_t{t}_color.avi", "label": actions[a], "subject": f"s{s}",
             "split": "train" if s % 2 else "test"}
            for a in range(1, 28) for s in range(1, 9) for t in range(1, 5)
            if f"a{a}_s{s}_t{t}" not in UTD_MHAD_MISSING]
    return {"utd_mhad": _frame(rows)}


# ---------------------------------------------------------------------------------------------
# Where each dataset comes from
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Archive:
    """One file to download: mirrors tried in order, checksums verified where published."""

    filename: str
    urls: tuple[str, ...]
    sha256: str | None = None
    md5: str | None = None
    sha1: str | None = None
    size: str = ""

    @property
    def checksums(self) -> dict[str, str]:
        return {k: v for k, v in (("sha256", self.sha256), ("md5", self.md5), ("sha1", self.sha1)) if v}


@dataclasses.dataclass(frozen=True)
class PublicDataset:
    """A public benchmark: its archives, its official split files and how to read them."""

    name: str
    title: str
    homepage: str
    videos: tuple[Archive, ...]
    splits_subdir: str  # folder of the split files under the shared ``splits`` folder
    derive: Callable[[Path], dict[str, pd.DataFrame]]
    splits: tuple[int, ...] = (1,)
    annotations: Archive | None = None  # official split files, checked against data_manifests/
    annotation_marker: str = ""  # a file name that identifies the split files' folder
    # a protocol without a validation split: what must stay together when val is carved from train
    validation_groups: Callable[[pd.DataFrame], pd.Series] | None = None

    def manifest_stem(self, split: int) -> str:
        return f"{self.name}_split{split}" if len(self.splits) > 1 else self.name

    @property
    def card(self) -> str:
        return "data_manifests/README.md#" + self.name.replace("_", "-")


def _both_schemes(url: str) -> tuple[str, ...]:
    """``url`` and the same address over the other scheme (these hosts' TLS setups vary)."""
    other = url.replace("http://", "https://") if url.startswith("http://") else url.replace("https://", "http://")
    return (url, other)


_KTH_SHA1 = {"boxing": "adb36ed9c29c846d44d2ba15f348bd115c951bbd",
             "handclapping": "d3b81261aa822ef63d0d1523f945bfaff27814d2",
             "handwaving": "0792f7cd69f7f895a205c08ac212ddaa7177e370",
             "jogging": "21943bdbcef9dad106db0d74661e49eaeaa15a25",
             "running": "da83bb313edfd4455fffdda6263696fa10d43c6f",
             "walking": "a3e81537271a0ab4576591774baa38c2d97b7e3a"}
_HMDB = "http://serre-lab.clps.brown.edu/wp-content/uploads/2013/10/"

SOURCES: dict[str, PublicDataset] = {
    "hmdb51": PublicDataset(
        "hmdb51", "HMDB51", "https://serre-lab.clps.brown.edu/resource/hmdb-a-large-human-motion-database/",
        videos=(Archive("hmdb51_org.rar", _both_schemes(_HMDB + "hmdb51_org.rar"),
                        md5="517d6f1f19f215c45cdd4d25356be1fb", size="about 2 GB"),),
        splits_subdir="hmdb51/testTrainMulti_7030_splits", derive=hmdb51_manifests, splits=(1, 2, 3),
        annotations=Archive("test_train_splits.rar", _both_schemes(_HMDB + "test_train_splits.rar"),
                            md5="15e67781e70dcfbdce2d7dbb9b3344b5"),
        annotation_marker="brush_hair_test_split1.txt",
        validation_groups=lambda frame: pd.Series(map(hmdb51_source, frame["path"], frame["label"]), frame.index)),
    "ucf101": PublicDataset(
        "ucf101", "UCF101", "https://www.crcv.ucf.edu/data/UCF101.php",
        videos=(Archive("UCF101.rar", ("https://www.crcv.ucf.edu/datasets/human-actions/ucf101/UCF101.rar",
                                       "https://www.crcv.ucf.edu/data/UCF101/UCF101.rar"),
                        size="about 6.5 GB"),),
        splits_subdir="ucf101/ucfTrainTestlist", derive=ucf101_manifests, splits=(1, 2, 3),
        annotations=Archive("UCF101TrainTestSplits-RecognitionTask.zip",
                            ("https://www.crcv.ucf.edu/wp-content/uploads/2019/03/"
                             "UCF101TrainTestSplits-RecognitionTask.zip",
                             "https://www.crcv.ucf.edu/data/UCF101/UCF101TrainTestSplits-RecognitionTask.zip"),
                            sha256="5c0d1a53b8ed364a2ac830a73f405e51bece7d98ce1254fd19ed4a36b224bd27",
                            size="113,943 bytes"),
        annotation_marker="classInd.txt",
        validation_groups=lambda frame: frame["label"] + "/" + frame["subject"]),
    "utd_mhad": PublicDataset(
        "utd_mhad", "UTD-MHAD (RGB videos)", "https://www.utdallas.edu/~kehtar/UTD-MHAD.html",
        videos=(Archive("RGB.zip", _both_schemes("https://www.utdallas.edu/~kehtar/UTD-MAD/RGB.zip"),
                        size="about 1.1 GB"),),
        splits_subdir="utd_mhad", derive=utd_mhad_manifests),
    "kth": PublicDataset(
        "kth", "KTH human actions", "https://www.csc.kth.se/cvap/actions/",
        videos=tuple(Archive(f"{action}.zip", _both_schemes(f"http://www.csc.kth.se/cvap/actions/{action}.zip"),
                             sha1=sha1) for action, sha1 in _KTH_SHA1.items()),
        splits_subdir="kth", derive=kth_manifests),
}


if tuple(SOURCES) != PUBLIC_DATASETS:  # config.PUBLIC_DATASETS names what `dataset=` accepts
    raise RuntimeError(f"public dataset sources {tuple(SOURCES)} differ from config.PUBLIC_DATASETS {PUBLIC_DATASETS}")


def _dataset(name: str) -> PublicDataset:
    if name not in SOURCES:
        raise DatasetError(f"unknown public dataset {name!r}; allowed: {', '.join(SOURCES)}")
    return SOURCES[name]


def _check_split(spec: PublicDataset, split: int) -> None:
    if split not in spec.splits:
        raise DatasetError(f"{spec.name}: split={split!r} does not exist; allowed: "
                           f"{', '.join(map(str, spec.splits))}")


def derive_manifests(splits_dir: str | Path) -> dict[str, pd.DataFrame]:
    """Every public manifest (file stem -> frame) from the official split files in ``splits_dir``.

    ``splits_dir`` has one sub-folder per dataset, laid out as in the shared ``splits`` folder
    (``hmdb51/testTrainMulti_7030_splits``, ``ucf101/ucfTrainTestlist``, ``kth``, ``utd_mhad``).
    """
    out: dict[str, pd.DataFrame] = {}
    for spec in SOURCES.values():
        out.update(spec.derive(Path(splits_dir) / spec.splits_subdir))
    return out


def manifest_csv_text(frame: pd.DataFrame) -> str:
    """The exact text :func:`datasets.write_manifest` writes for ``frame``."""
    return frame.to_csv(index=False, lineterminator="\n")


def build_split_manifests(splits_dir: str | Path, out_dir: str | Path = DATA_MANIFESTS_DIR) -> list[Path]:
    """Write every public manifest derived from ``splits_dir`` into ``out_dir`` (atomically)."""
    return [write_manifest(frame, Path(out_dir) / f"{stem}.csv")
            for stem, frame in derive_manifests(splits_dir).items()]


def public_manifest(name: str, split: int = 1, data_dir: str | Path | None = None) -> pd.DataFrame:
    """The committed manifest of ``name``/``split`` (video columns empty); paths resolve
    against ``<data_dir>/<name>`` when ``data_dir`` is given."""
    spec = _dataset(name)
    _check_split(spec, split)
    root = Path(data_dir) / name if data_dir is not None else None
    return load_manifest(DATA_MANIFESTS_DIR / f"{spec.manifest_stem(split)}.csv", root=root)


# ---------------------------------------------------------------------------------------------
# Whole datasets
# ---------------------------------------------------------------------------------------------

def _all_paths(spec: PublicDataset) -> list[str]:
    """Every video path of the dataset, over all its splits."""
    frames = [public_manifest(spec.name, k) for k in spec.splits]
    return sorted(set().union(*(frame["path"] for frame in frames)))


def _missing(root: Path, paths: Iterable[str]) -> list[str]:
    return [p for p in paths if not (root / p).is_file()]


def install_videos(source: str | Path, root: str | Path, paths: Iterable[str]) -> list[str]:
    """Move the videos named by ``paths`` (relative to ``root``) from anywhere under ``source``,
    found by file name, to their place under ``root``; return the paths still missing."""
    source, root = Path(source), Path(root)
    wanted = {Path(p).name: p for p in _missing(root, paths)}
    if source.is_dir():
        for folder, dirs, files in os.walk(source):
            dirs[:] = [d for d in dirs if not d.startswith(".")]  # skip unfinished ".*.partial" extractions
            for name in files:
                if name in wanted and Path(name).suffix.lower() in VIDEO_SUFFIXES:
                    target = root / wanted.pop(name)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(os.path.join(folder, name), target)
    return sorted(wanted.values())


def _fetch(archive: Archive, dest: Path, progress: bool) -> Path:
    """Download ``archive`` from its first working mirror (checksum mismatches are not retried)."""
    errors = []
    for url in archive.urls:
        try:
            path = download(url, dest, progress=progress, **archive.checksums)
        except ChecksumError:
            raise
        except DownloadError as error:
            errors.append(str(error))
            continue
        if not archive.checksums:
            print(f"{dest.name}: no published checksum to verify; its sha256 is {sha256_file(path)}")
        return path
    raise DownloadError(f"{archive.filename} could not be downloaded:\n  " + "\n  ".join(errors) +
                        f"\nDownload it in a browser and save it as {dest}, then run again.")


def check_split_files(name: str, folder: str | Path) -> None:
    """Raise :class:`DatasetError` unless the official split files found under ``folder``
    give exactly the committed manifests of ``name``."""
    spec = _dataset(name)
    folder = Path(folder)
    found = next((p.parent for p in folder.rglob(spec.annotation_marker)), None)
    if found is None:
        raise DatasetError(f"{folder}: no {spec.annotation_marker} in the official split archive")
    for stem, frame in spec.derive(found).items():
        committed = DATA_MANIFESTS_DIR / f"{stem}.csv"
        if manifest_csv_text(frame) != committed.read_text():
            raise DatasetError(f"the official split files in {found} differ from {committed}; the "
                               "committed manifests are out of date (see data_manifests/README.md)")


def download_public_dataset(name: str, data_dir: str | Path, progress: bool = True,
                            keep_archives: bool = True) -> Path:
    """Download, verify, extract and install ``name`` as ``<data_dir>/<name>/<label>/<video>``.

    Idempotent and resumable: archives already in ``<data_dir>/<name>/downloads/`` are
    verified instead of downloaded (so files fetched by hand in a browser can be dropped
    there), videos already unpacked anywhere under that folder are installed without
    extracting again, and an interrupted run continues where it stopped. The official split
    files (HMDB51, UCF101) are kept in ``<data_dir>/<name>/annotations/`` and checked against
    the committed manifests. Returns ``<data_dir>/<name>``.
    """
    spec = _dataset(name)
    root = Path(data_dir).expanduser().resolve() / name
    downloads = root / "downloads"
    paths = _all_paths(spec)
    if not install_videos(downloads, root, paths):
        return root
    if spec.annotations is not None:
        annotations = _fetch(spec.annotations, downloads / spec.annotations.filename, progress)
        check_split_files(name, unpack(annotations, root / "annotations", progress))
    for archive in spec.videos:
        path = _fetch(archive, downloads / archive.filename, progress)
        unpack(path, downloads / "extracted" / archive.filename, progress)
    missing = install_videos(downloads, root, paths)
    if missing:
        raise DatasetError(f"{name}: {len(missing)} of {len(paths)} videos are not in the archives "
                           f"(first: {', '.join(missing[:3])}); see {spec.card}")
    shutil.rmtree(downloads / "extracted", ignore_errors=True)
    if not keep_archives:
        for archive in spec.videos:
            (downloads / archive.filename).unlink(missing_ok=True)
    return root


def _instructions(spec: PublicDataset, root: Path, missing: int, total: int, split: int) -> str:
    files = "\n".join(f"    {a.urls[0]}  ({a.size or 'size not published'}"
                      + "".join(f", {k} {v}" for k, v in a.checksums.items()) + ")" for a in spec.videos)
    example = public_manifest(spec.name, split)["path"].iloc[0]
    tool = f"\nExtracting RAR archives needs an external tool: {RAR_TOOLS_HINT}." \
        if any(a.filename.endswith(".rar") for a in spec.videos) else ""
    return (f"{spec.name}: {missing} of the {total} videos of split {split} are not in {root}.\n"
            f"Download and install them (resumable; checks the published checksums) with:\n"
            f"    from course_utils.public_datasets import download_public_dataset\n"
            f"    download_public_dataset({spec.name!r}, {str(root.parent)!r})\n"
            f"or download by hand from {spec.homepage}:\n{files}\n"
            f"into {root / 'downloads'}/ (archives, or the videos already unpacked) and run the same "
            f"call: it installs them as {root}/<label>/<video>, e.g. {root / example}.{tool}\n"
            f"Details: {spec.card}")


def _video_info(root: Path, paths: list[str], workers: int, progress: bool) -> tuple[pd.DataFrame, list[Failure]]:
    """frames/fps/size/sha256 of ``paths``, probed once and cached in ``root/video_info.csv``
    (an entry is reused while the file keeps its size and modification time)."""
    cache_path = root / VIDEO_INFO_NAME
    columns = ["path", "frames", "fps", "width", "height", "sha256", "bytes", "mtime_ns"]
    cached = pd.read_csv(cache_path, dtype={"sha256": str}) if cache_path.is_file() else pd.DataFrame(columns=columns)
    known = {row["path"]: row for row in cached.to_dict("records")}
    stats = {p: (root / p).stat() for p in paths}
    todo = [p for p in paths if p not in known
            or (known[p]["bytes"], known[p]["mtime_ns"]) != (stats[p].st_size, stats[p].st_mtime_ns)]
    failures = []
    if todo:
        results = parallel_map(describe_video, [(root, root / p) for p in todo], workers, progress,
                               desc=f"probing {root.name}", unit="video")
        for path, result in zip(todo, results):
            if isinstance(result, Failure):
                failures.append(result)
            else:
                known[path] = {**result, "bytes": stats[path].st_size, "mtime_ns": stats[path].st_mtime_ns}
        cached = pd.DataFrame([known[p] for p in sorted(known)], columns=columns)
        with atomic_path(cache_path) as tmp:
            cached.to_csv(tmp, index=False)
    return cached[cached["path"].isin(set(paths))][columns[:6]], failures


def prepare_public_dataset(name: str, data_dir: str | Path, split: int = 1, progress: bool = True,
                           workers: int = 2, allow_missing: bool = False) -> pd.DataFrame:
    """The manifest of ``name``/``split`` with the video columns filled from the files on disk.

    The videos must be under ``<data_dir>/<name>/`` as the committed manifest says; if they
    are not, :class:`DatasetError` says what to download, from where and where to put it
    (``allow_missing=True`` uses the videos that are there when only some are missing).
    Unreadable videos are reported and left out. The result is also written to
    ``<data_dir>/<name>/manifest.csv`` (the split prepared last).

    HMDB51 and UCF101 have no validation split: :data:`VALIDATION_FRACTION` of each class's
    training clips become ``val``, whole source videos (UCF101: groups) at a time, chosen from the
    official split alone (``datasets.carve_validation``), so every machine and seed gets the same.
    """
    spec = _dataset(name)
    _check_split(spec, split)
    root = Path(data_dir).expanduser().resolve() / name
    manifest = public_manifest(name, split, data_dir=root.parent)
    if spec.validation_groups is not None:
        manifest = carve_validation(manifest, spec.validation_groups(manifest), VALIDATION_FRACTION)
    paths = sorted(set(manifest["path"]))
    missing = _missing(root, paths)
    if len(missing) == len(paths) or (missing and not allow_missing):
        message = _instructions(spec, root, len(missing), len(paths), split)
        if len(missing) < len(paths):
            message += (f"\nFirst missing: {', '.join(missing[:3])}. Pass allow_missing=True to use the "
                        f"{len(paths) - len(missing)} that are there.")
        raise DatasetError(message)
    absent = set(missing)
    info, failures = _video_info(root, [p for p in paths if p not in absent], workers, progress)
    for failure in failures + [Failure(p, "file is missing") for p in missing]:
        print(f"skipped {failure}")
    filled = manifest.drop(columns=MANIFEST_COLUMNS[4:]).merge(info, on="path", how="inner")
    if filled.empty:
        raise DatasetError(f"{root}: none of the {len(paths)} videos of {name} split {split} could be read")
    if "end_frame" in filled:  # KTH annotations may run past the decoded end of a video
        late = filled["end_frame"] > filled["frames"]
        if late.any():
            print(f"{name}: {int(late.sum())} sub-sequences end after the last decoded frame; clipped")
        filled["end_frame"] = filled[["end_frame", "frames"]].min(axis=1).astype(int)
        filled = filled[filled["start_frame"] < filled["end_frame"]]
    write_manifest(filled[manifest.columns], root / MANIFEST_NAME)
    return load_manifest(root / MANIFEST_NAME)


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils.public_datasets SPLITS_DIR [OUT_DIR]``: rebuild the manifests."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):
        print(main.__doc__, file=sys.stderr)
        return 2
    for path in build_split_manifests(*args):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
