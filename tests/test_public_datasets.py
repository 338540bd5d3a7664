"""Public datasets: manifests from the official split files, downloads, safe extraction.

Nothing is downloaded from the internet: a local HTTP server on 127.0.0.1 (with Range
support and connections cut on purpose) stands in for the hosts, and the archives are built
in the tests (RAR ones byte by byte, see ``fixtures_archives.py``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rarfile

from course_utils import catalog, config, datasets, transfer, video
from course_utils import public_datasets as pdata
from course_utils.config import REPO_ROOT
from fixtures_archives import RarMember, write_rar, write_tar, write_zip

SPLITS_DIR = REPO_ROOT.parent / "shared" / "datasets" / "splits"


@pytest.fixture(scope="module")
def splits_dir() -> Path:
    if not SPLITS_DIR.is_dir():
        pytest.skip(f"official split files not available: {SPLITS_DIR.relative_to(REPO_ROOT.parent)} "
                    "is missing beside the repository")
    return SPLITS_DIR


@pytest.fixture(scope="module")
def derived(splits_dir) -> dict[str, pd.DataFrame]:
    return pdata.derive_manifests(splits_dir)


# ---------------------------------------------------------------------------------------------
# Manifests
# ---------------------------------------------------------------------------------------------

def _official_hmdb51_codes(splits_dir: Path, k: int) -> dict[str, str]:
    codes = {}
    for file in (splits_dir / "hmdb51" / "testTrainMulti_7030_splits").glob(f"*_test_split{k}.txt"):
        label = file.name[:-len(f"_test_split{k}.txt")]
        for line in file.read_text().split("\n"):
            if line.strip():
                name, code = line.split()
                codes[f"{label}/{name}"] = code
    return codes


@pytest.mark.parametrize("k", [1, 2, 3])
def test_hmdb51_split_counts(derived, splits_dir, k):
    frame = derived[f"hmdb51_split{k}"]
    assert frame["split"].value_counts().to_dict() == {"train": 3570, "test": 1530}
    assert frame["label"].nunique() == 51
    assert (frame.groupby("label")["split"].value_counts().unstack()[["train", "test"]] == [70, 30]).all().all()
    codes = _official_hmdb51_codes(splits_dir, k)
    unused = {path for path, code in codes.items() if code == "0"}
    assert len(unused) == 1666
    assert set(frame["path"]) == set(codes) - unused
    assert (frame["subject"] == frame["path"].str.split("/").str[1].str[:-4]).all()


def test_ucf101_split_counts(derived):
    expected = {1: (9537, 3783), 2: (9586, 3734), 3: (9624, 3696)}
    for k, (train, test) in expected.items():
        frame = derived[f"ucf101_split{k}"]
        assert frame["split"].value_counts().to_dict() == {"train": train, "test": test}
        assert frame["label"].nunique() == 101 and len(frame) == 13320
        assert sorted(frame["subject"].unique()) == [f"g{g:02d}" for g in range(1, 26)]
        # The official splits hold out whole groups: no group is in train and test of one class.
        by_class = frame.groupby(["label", "subject"])["split"].nunique()
        assert (by_class == 1).all()


def test_kth_manifest(derived, splits_dir):
    frame = derived["kth"]
    entries = [l for l in (splits_dir / "kth" / "00sequences.txt").read_text().splitlines()
               if l.startswith("person")]
    assert len(entries) == 600  # 25 persons x 6 actions x 4 scenarios
    assert frame["path"].nunique() == 599  # person13_handclapping_d3 is marked missing
    assert not frame["path"].str.contains("person13_handclapping_d3").any()
    assert frame["label"].nunique() == 6 and frame["subject"].nunique() == 25
    assert len(frame) == 2391  # 594 videos with 4 sub-sequences, 5 with 3
    assert (frame.groupby("subject")["split"].nunique() == 1).all()
    persons = frame.groupby("split")["subject"].unique().map(lambda s: sorted(int(p[6:]) for p in s))
    assert persons["train"] == list(range(11, 19))
    assert persons["val"] == [1, 4, 19, 20, 21, 23, 24, 25]
    assert persons["test"] == [2, 3, 5, 6, 7, 8, 9, 10, 22]
    assert (frame["start_frame"] >= 0).all() and (frame["start_frame"] < frame["end_frame"]).all()
    first = frame[frame["path"] == "boxing/person01_boxing_d1_uncomp.avi"]
    assert first[["start_frame", "end_frame"]].values.tolist() == [[0, 95], [95, 185], [185, 245], [245, 360]]


def test_utd_mhad_manifest(derived):
    frame = derived["utd_mhad"]
    assert frame["label"].nunique() == 27 and frame["subject"].nunique() == 8
    assert len(frame) == 27 * 8 * 4 - 3
    assert frame["split"].value_counts().to_dict() == {"train": 431, "test": 430}
    odd = frame["subject"].str[1:].astype(int) % 2 == 1
    assert (frame.loc[odd, "split"] == "train").all() and (frame.loc[~odd, "split"] == "test").all()
    assert frame["path"].iloc[0] == "swipe_left/a1_s1_t1_color.avi"


def test_committed_manifests_equal_a_fresh_derivation(splits_dir, tmp_path):
    written = pdata.build_split_manifests(splits_dir, tmp_path)
    committed = sorted(config.DATA_MANIFESTS_DIR.glob("*.csv"))
    assert [p.name for p in committed] == sorted(p.name for p in written)
    for path in written:
        assert path.read_text() == (config.DATA_MANIFESTS_DIR / path.name).read_text(), path.name


def test_committed_manifests_follow_the_contract():
    for name, spec in pdata.SOURCES.items():
        for k in spec.splits:
            frame = pdata.public_manifest(name, k)
            assert list(frame.columns[:len(datasets.MANIFEST_COLUMNS)]) == datasets.MANIFEST_COLUMNS
            assert frame[["frames", "fps", "width", "height", "sha256"]].isna().all().all()
            assert set(frame["split"]) <= set(datasets.SPLITS)


def test_bad_dataset_name_or_split_is_a_clear_error(tmp_path):
    with pytest.raises(datasets.DatasetError, match="allowed: 1, 2, 3"):
        pdata.public_manifest("hmdb51", 4)
    with pytest.raises(datasets.DatasetError, match="allowed: 1$"):
        pdata.prepare_public_dataset("kth", tmp_path, split=2)
    with pytest.raises(datasets.DatasetError, match="allowed: hmdb51, ucf101, utd_mhad, kth"):
        pdata.prepare_public_dataset("kinetics", tmp_path)


def test_split_files_are_checked_against_the_committed_manifests(splits_dir, tmp_path):
    source = splits_dir / "ucf101" / "ucfTrainTestlist"
    pdata.check_split_files("ucf101", source)
    changed = tmp_path / "ucfTrainTestlist"
    changed.mkdir()
    for file in source.iterdir():
        (changed / file.name).write_bytes(file.read_bytes())
    test1 = changed / "testlist01.txt"
    original = test1.read_bytes()
    test1.write_bytes(re.sub(rb"ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01\.avi\r?\n", b"", original, count=1))
    assert test1.read_bytes() != original
    with pytest.raises(datasets.DatasetError, match="differ from .*ucf101_split1.csv"):
        pdata.check_split_files("ucf101", changed)


# ---------------------------------------------------------------------------------------------
# Downloads from a local HTTP server
# ---------------------------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.files``; honours ``Range: bytes=N-`` unless told not to; cuts the
    connection after ``server.cuts.pop(0)`` body bytes while cuts are queued."""

    def do_GET(self):  # noqa: N802 (http.server naming)
        server = self.server
        server.requests.append({"path": self.path, "range": self.headers.get("Range")})
        data = server.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = 0
        wanted = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if wanted and server.honour_range:
            start = int(wanted.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if server.cuts:
            self.wfile.write(body[:server.cuts.pop(0)])
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    for variable in ("http_proxy", "https_proxy", "all_proxy"):  # talk to 127.0.0.1 directly
        monkeypatch.delenv(variable, raising=False)
        monkeypatch.delenv(variable.upper(), raising=False)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.cuts, httpd.requests, httpd.honour_range = {}, [], [], True
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


PAYLOAD = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
SHA256 = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def served(server):
    server.files["/file.bin"] = PAYLOAD
    return server, f"{server.url}/file.bin"


def _part(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def test_download_verifies_and_does_not_fetch_twice(served, tmp_path):
    server, url = served
    dest = transfer.download(url, tmp_path / "file.bin", sha256=SHA256, md5=hashlib.md5(PAYLOAD).hexdigest(),
                          sha1=hashlib.sha1(PAYLOAD).hexdigest(), progress=False)
    assert dest.read_bytes() == PAYLOAD and not _part(dest).exists()
    transfer.download(url, dest, sha256=SHA256, progress=False)
    assert len(server.requests) == 1  # the second call only verified the file on disk


def test_download_resumes_after_a_cut_connection(served, tmp_path):
    server, url = served
    server.cuts = [100_000]
    dest = tmp_path / "file.bin"
    with pytest.raises(transfer.DownloadError, match=r"100000 bytes kept in .*file\.bin\.part: run again"):
        transfer.download(url, dest, sha256=SHA256, retries=0, progress=False)
    assert not dest.exists() and _part(dest).stat().st_size == 100_000
    transfer.download(url, dest, sha256=SHA256, retries=0, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert server.requests[-1]["range"] == "bytes=100000-"


def test_download_retries_within_one_call(served, tmp_path):
    server, url = served
    server.cuts = [50_000, 70_000]
    dest = transfer.download(url, tmp_path / "file.bin", sha256=SHA256, retries=3, retry_wait=0, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert [r["range"] for r in server.requests] == [None, "bytes=50000-", "bytes=120000-"]


def test_download_restarts_when_the_server_ignores_range(served, tmp_path):
    server, url = served
    server.honour_range = False
    dest = tmp_path / "file.bin"
    _part(dest).write_bytes(b"stale bytes from another file")
    transfer.download(url, dest, sha256=SHA256, progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_download_finishes_a_part_that_is_already_complete(served, tmp_path):
    server, url = served
    dest = tmp_path / "file.bin"
    _part(dest).write_bytes(PAYLOAD)
    transfer.download(url, dest, sha256=SHA256, progress=False)
    assert dest.read_bytes() == PAYLOAD and server.requests[0]["range"] == f"bytes={len(PAYLOAD)}-"


def test_checksum_mismatch_keeps_the_file_and_says_expected_vs_got(served, tmp_path):
    _, url = served
    dest = tmp_path / "file.bin"
    wrong = "0" * 64
    with pytest.raises(transfer.ChecksumError) as error:
        transfer.download(url, dest, sha256=wrong, progress=False)
    message = str(error.value)
    assert f"expected {wrong}" in message and f"got {SHA256}" in message
    kept = tmp_path / f"file.bin.bad-{SHA256[:12]}"
    assert str(kept) in message and kept.read_bytes() == PAYLOAD
    assert not dest.exists() and not _part(dest).exists()


def test_existing_file_with_wrong_checksum_is_kept_renamed(tmp_path):
    dest = tmp_path / "file.bin"
    dest.write_bytes(b"not the archive")
    with pytest.raises(transfer.ChecksumError, match="md5 mismatch"):
        transfer.download("http://127.0.0.1:9/never-contacted", dest, md5="0" * 32, progress=False)
    assert [p.name for p in tmp_path.iterdir()] == [f"file.bin.bad-{hashlib.md5(b'not the archive').hexdigest()[:12]}"]


def test_http_404_is_reported_without_retrying(served, tmp_path):
    server, _ = served
    with pytest.raises(transfer.DownloadError, match=r"/nothing\.zip: HTTP 404"):
        transfer.download(f"{server.url}/nothing.zip", tmp_path / "x.zip", retry_wait=0, progress=False)
    assert len(server.requests) == 1


# ---------------------------------------------------------------------------------------------
# Safe extraction
# ---------------------------------------------------------------------------------------------

GOOD = {"top.txt": b"top", "sub/inner.txt": b"inner", "sub/deeper/v.avi": b"\x00video"}


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("kind", ["zip", "tar", "rar"])
def test_safe_extract_good_archives(tmp_path, kind):
    if kind == "zip":
        archive = write_zip(tmp_path / "a.zip", GOOD)
    elif kind == "tar":
        archive = write_tar(tmp_path / "a.tar.gz", GOOD)
    else:
        archive = write_rar(tmp_path / "a.rar", [RarMember("sub", is_dir=True)]
                            + [RarMember(n, d) for n, d in GOOD.items()])
    dest = transfer.safe_extract(archive, tmp_path / "out", progress=False)
    assert _tree(dest) == GOOD
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no partial left


HOSTILE = {
    "zip dot-dot": lambda d: write_zip(d / "a.zip", {"ok.txt": b"1", "../evil.txt": b"x"}),
    "zip absolute": lambda d: write_zip(d / "a.zip", {"ok.txt": b"1", "/abs/evil.txt": b"x"}),
    "zip symlink out": lambda d: write_zip(d / "a.zip", {"ok.txt": b"1"}, symlinks={"link": "../../evil"}),
    "tar dot-dot": lambda d: write_tar(d / "a.tar.gz", {"ok.txt": b"1", "sub/../../evil.txt": b"x"}),
    "tar absolute": lambda d: write_tar(d / "a.tar.gz", {"ok.txt": b"1", "/srv/evil.txt": b"x"}),
    "tar symlink absolute": lambda d: write_tar(d / "a.tar.gz", {"ok.txt": b"1"}, symlinks={"l": "/etc"}),
    "tar hardlink out": lambda d: write_tar(d / "a.tar.gz", {"ok.txt": b"1"}, hardlinks={"h": "../evil"}),
    "rar dot-dot": lambda d: write_rar(d / "a.rar", [RarMember("ok.txt", b"1"), RarMember("../evil.txt", b"x")]),
    "rar backslash dot-dot": lambda d: write_rar(d / "a.rar", [RarMember("..\\evil.txt", b"x")]),
    "rar absolute": lambda d: write_rar(d / "a.rar", [RarMember("/abs/evil.txt", b"x")]),
    "rar symlink out": lambda d: write_rar(d / "a.rar", [RarMember("ok.txt", b"1"), RarMember("l", link="../x")]),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_safe_extract_refuses_members_outside_dest(tmp_path, case):
    work = tmp_path / "work"
    work.mkdir()
    archive = HOSTILE[case](tmp_path)
    with pytest.raises(transfer.UnsafeArchiveError, match=rf"{re.escape(str(archive))}: refusing member"):
        transfer.safe_extract(archive, work / "out", progress=False)
    assert list(work.iterdir()) == []  # nothing extracted, no partial folder left
    assert not (tmp_path / "evil.txt").exists()


def test_safe_extract_refuses_a_chain_of_links_that_escapes(tmp_path):
    # Each link stays inside on its own ("d/l" -> "..", "m" -> "d/l/.."); together "m" leads out.
    work = tmp_path / "work"
    work.mkdir()
    links = {"d/l": "..", "m": "d/l/.."}
    archive = write_tar(tmp_path / "a.tar.gz", {"d/ok.txt": b"1"}, symlinks=links)
    with pytest.raises(transfer.UnsafeArchiveError, match="leads outside"):
        transfer.safe_extract(archive, work / "out", progress=False)
    through = write_tar(tmp_path / "b.tar.gz", {}, symlinks=links, files_after={"m/evil.txt": b"x"})
    with pytest.raises(transfer.UnsafeArchiveError, match="refusing member 'm/evil.txt'"):
        transfer.safe_extract(through, work / "out", progress=False)
    assert list(work.iterdir()) == []  # nothing written beside the destination either


def test_safe_extract_is_atomic_and_a_rerun_completes(tmp_path, monkeypatch):
    archive = write_zip(tmp_path / "a.zip", GOOD)
    dest = tmp_path / "out"
    real_copy, calls = transfer.shutil.copyfileobj, []

    def fail_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk unplugged")
        return real_copy(*args, **kwargs)

    monkeypatch.setattr(transfer.shutil, "copyfileobj", fail_on_second)
    with pytest.raises(OSError, match="disk unplugged"):
        transfer.safe_extract(archive, dest, progress=False)
    assert not dest.exists() and (tmp_path / ".out.partial").is_dir()
    monkeypatch.setattr(transfer.shutil, "copyfileobj", real_copy)
    assert _tree(transfer.safe_extract(archive, dest, progress=False)) == GOOD
    assert not (tmp_path / ".out.partial").exists()


def test_rar_crc_errors_are_reported(tmp_path):
    archive = write_rar(tmp_path / "a.rar", [RarMember("x.txt", b"hello world")])
    data = bytearray(archive.read_bytes())
    data[data.find(b"hello")] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(transfer.ArchiveError, match="CRC"):
        transfer.safe_extract(archive, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_compressed_rar_without_a_tool_names_the_package_to_install(tmp_path, monkeypatch):
    def no_tool(*args, **kwargs):
        raise rarfile.RarCannotExec("Cannot find working tool")

    monkeypatch.setattr(rarfile, "tool_setup", no_tool)
    archive = write_rar(tmp_path / "a.rar", [RarMember("v.avi", b"\x11" * 64, method=0x33)])
    with pytest.raises(transfer.ArchiveError, match=r"apt-get install -y unrar.*apt-get install -y unar"):
        transfer.safe_extract(archive, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_not_an_archive(tmp_path):
    path = tmp_path / "notes.rar"
    path.write_text("hello")
    with pytest.raises(transfer.ArchiveError, match="not a zip, tar or RAR archive"):
        transfer.safe_extract(path, tmp_path / "out", progress=False)
    with pytest.raises(transfer.ArchiveError, match="does not exist"):
        transfer.safe_extract(tmp_path / "absent.zip", tmp_path / "out", progress=False)


def test_rar_of_rars_is_unpacked_and_videos_installed_by_name(tmp_path):
    """The HMDB51 layout: one RAR holding one RAR per class (with or without a class folder)."""
    inner_a = write_rar(tmp_path / "brush_hair.rar", [RarMember("brush_hair", is_dir=True),
                                                      RarMember("brush_hair/a_1.avi", b"A1"),
                                                      RarMember("brush_hair/a_2.avi", b"A2")])
    inner_b = write_rar(tmp_path / "cartwheel.rar", [RarMember("c_1.avi", b"C1")])
    outer = write_rar(tmp_path / "hmdb51_org.rar", [RarMember(p.name, p.read_bytes()) for p in (inner_a, inner_b)])
    dest = transfer.unpack(outer, tmp_path / "extracted", progress=False)
    assert not list(dest.rglob("*.rar"))  # inner archives removed once extracted
    root = tmp_path / "hmdb51"
    wanted = ["brush_hair/a_1.avi", "brush_hair/a_2.avi", "cartwheel/c_1.avi", "cartwheel/c_9.avi"]
    (dest / ".unfinished.partial").mkdir()
    (dest / ".unfinished.partial" / "c_9.avi").write_bytes(b"half a video")  # never installed
    assert pdata.install_videos(dest, root, wanted) == ["cartwheel/c_9.avi"]
    assert _tree(root) == {"brush_hair/a_1.avi": b"A1", "brush_hair/a_2.avi": b"A2", "cartwheel/c_1.avi": b"C1"}


# ---------------------------------------------------------------------------------------------
# Whole datasets: the missing-data message, and UTD-MHAD end to end from a local server
# ---------------------------------------------------------------------------------------------

def test_missing_dataset_says_what_to_download_and_where(tmp_path):
    with pytest.raises(datasets.DatasetError) as error:
        pdata.prepare_public_dataset("hmdb51", tmp_path / "data", split=2)
    message = str(error.value)
    root = (tmp_path / "data" / "hmdb51").resolve()
    assert "5100 of the 5100 videos of split 2 are not in" in message
    assert "http://serre-lab.clps.brown.edu/wp-content/uploads/2013/10/hmdb51_org.rar" in message
    assert "md5 517d6f1f19f215c45cdd4d25356be1fb" in message
    assert f"download_public_dataset('hmdb51', '{root.parent}')" in message
    assert f"{root / 'downloads'}/" in message and f"{root}/<label>/<video>" in message
    assert "apt-get install -y unrar" in message


def _write_clip(path: Path, frames: int) -> Path:
    """A real, decodable 32x24 MJPG AVI of ``frames`` frames (a bright bar moving right)."""
    clip = np.zeros((frames, 24, 32, 3), np.uint8)
    for t in range(frames):
        clip[t, 8:16, 2 * t:2 * t + 6] = 230
    return video.write_video(path, clip, fps=15.0)


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> bytes:
    return _write_clip(tmp_path_factory.mktemp("clip") / "clip.avi", frames=8).read_bytes()


@pytest.fixture
def utd_server(server, tiny_clip, tmp_path, monkeypatch):
    """A fake RGB.zip (the real layout: ``RGB/a{a}_s{s}_t{t}_color.avi``, all 864 names) served
    locally; the dataset's first mirror is a 404 so the fallback is used."""
    archive = tmp_path / "RGB.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for a in range(1, 28):
            for s in range(1, 9):
                for t in range(1, 5):
                    zf.writestr(f"RGB/a{a}_s{s}_t{t}_color.avi", tiny_clip)
    data = archive.read_bytes()
    server.files["/UTD-MAD/RGB.zip"] = data
    spec = pdata.SOURCES["utd_mhad"]
    videos = (pdata.Archive("RGB.zip", (f"{server.url}/gone/RGB.zip", f"{server.url}/UTD-MAD/RGB.zip"),
                            sha256=hashlib.sha256(data).hexdigest()),)
    monkeypatch.setitem(pdata.SOURCES, "utd_mhad", dataclasses.replace(spec, videos=videos))
    return server


def test_utd_mhad_end_to_end(utd_server, tiny_clip, tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    root = pdata.download_public_dataset("utd_mhad", data_dir, progress=False)
    assert root == (data_dir / "utd_mhad").resolve()
    installed = sorted(p.relative_to(root).as_posix() for p in root.glob("*/*.avi"))
    assert installed == sorted(pdata.public_manifest("utd_mhad")["path"])
    assert not (root / "downloads" / "extracted").exists() and (root / "downloads" / "RGB.zip").is_file()

    frame = pdata.prepare_public_dataset("utd_mhad", data_dir, progress=False)
    assert len(frame) == 861 and frame["split"].value_counts().to_dict() == {"train": 431, "test": 430}
    assert (frame["frames"] == 8).all() and (frame["width"] == 32).all() and (frame["height"] == 24).all()
    assert (frame["sha256"] == hashlib.sha256(tiny_clip).hexdigest()).all()
    assert frame.attrs["root"] == str(root) and (root / datasets.MANIFEST_NAME).is_file()

    # A second call reuses the probe cache: no video is probed.
    def no_pool(*args, **kwargs):
        raise AssertionError("videos were probed again")

    pool = pdata.parallel_map
    monkeypatch.setattr(pdata, "parallel_map", no_pool)
    cfg = config.resolve_config("ci", "utd_mhad", data_dir=data_dir)
    again = catalog.prepare_dataset(cfg, progress=False)
    pd.testing.assert_frame_equal(again, frame)
    monkeypatch.setattr(pdata, "parallel_map", pool)

    # A changed file is probed again; the rest comes from the cache.
    _write_clip(root / "wave" / "a3_s2_t1_color.avi", frames=10)
    changed = pdata.prepare_public_dataset("utd_mhad", data_dir, progress=False)
    assert changed.set_index("path")["frames"].value_counts().to_dict() == {8: 860, 10: 1}
    assert changed.set_index("path").loc["wave/a3_s2_t1_color.avi", "frames"] == 10

    # Run again: everything is in place, nothing is downloaded.
    before = len(utd_server.requests)
    pdata.download_public_dataset("utd_mhad", data_dir, progress=False)
    assert len(utd_server.requests) == before


def test_partly_present_dataset(tiny_clip, tmp_path, capsys):
    root = tmp_path / "utd_mhad"
    (root / "swipe_left").mkdir(parents=True)
    (root / "swipe_left" / "a1_s1_t1_color.avi").write_bytes(tiny_clip)
    with pytest.raises(datasets.DatasetError, match="(?s)860 of the 861 videos.*allow_missing=True"):
        pdata.prepare_public_dataset("utd_mhad", tmp_path, progress=False)
    frame = pdata.prepare_public_dataset("utd_mhad", tmp_path, progress=False, allow_missing=True)
    assert frame["path"].tolist() == ["swipe_left/a1_s1_t1_color.avi"]
    assert "skipped swipe_left/a1_s2_t1_color.avi: file is missing" in capsys.readouterr().out


def test_kth_sub_sequences_are_clipped_to_the_decoded_frames(tiny_clip, tmp_path, capsys):
    root = tmp_path / "kth"
    for path in pdata.public_manifest("kth")["path"].unique():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(tiny_clip)  # 8 frames: every annotated range runs past the end
    frame = pdata.prepare_public_dataset("kth", tmp_path, progress=False)
    assert "kth: 2391 sub-sequences end after the last decoded frame; clipped" in capsys.readouterr().out
    assert len(frame) == 599 and frame["path"].is_unique  # only the first range of each video survives
    assert (frame["start_frame"] == 0).all() and (frame["end_frame"] == 8).all() and (frame["frames"] == 8).all()


def test_every_public_dataset_of_the_config_has_a_source():
    assert set(pdata.SOURCES) == set(config.PUBLIC_DATASETS)
