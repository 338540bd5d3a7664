"""Getting files in safely: downloads that resume and verify, archives extracted safely.

* :func:`download`: HTTP Range resume of a ``.part`` file, checksums, progress, a bounded
  wait on a silent server (``timeout`` per attempt, ``deadline_s`` without data in all);
* :func:`safe_extract` / :func:`unpack`: zip, tar and RAR; members that would land outside
  the destination are refused; a destination folder appears only once it is complete.
"""
from __future__ import annotations

import dataclasses
import http.client
import os
import posixpath
import re
import shutil
import socket
import stat
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import IO, Callable

import rarfile

from . import __version__
from .config import REPO_URL
from .jobs import CourseError, OutputError, Progress, describe_os_error, ensure_writable_dir, file_digests

USER_AGENT = f"course_utils/{__version__} (+{REPO_URL})"
RAR_TOOLS_HINT = ("`apt-get install -y unrar` (Colab, Ubuntu; on Debian it is in non-free) or "
                  "`apt-get install -y unar` (Debian main; macOS: `brew install unar`)")


class TransferError(CourseError):
    """A download or an extraction failed; the message says what was kept and what to do."""


class DownloadError(TransferError):
    """A file could not be downloaded; the message says what was kept and what to do."""


class ChecksumError(DownloadError):
    """A downloaded file does not have the published checksum (it is kept, renamed)."""


class ArchiveError(TransferError):
    """An archive cannot be read or needs a tool that is missing."""


class UnsafeArchiveError(ArchiveError):
    """An archive member would be written outside the destination folder."""


# ---------------------------------------------------------------------------------------------
# Download with resume and checksums
# ---------------------------------------------------------------------------------------------

def verify_checksums(path: str | Path, expected: dict[str, str], name: str | None = None) -> None:
    """Raise :class:`ChecksumError` unless ``path`` has every digest in ``expected``.

    On a mismatch nothing is deleted: the file is renamed ``<name>.bad-<digest>`` beside it
    and the message gives the expected and the actual digest.
    """
    path = Path(path)
    if not expected:
        return
    got = file_digests(path, list(expected))
    for algorithm, want in expected.items():
        if got[algorithm] != want.lower():
            kept = path.with_name(f"{name or path.name}.bad-{got[algorithm][:12]}")
            path.replace(kept)
            raise ChecksumError(f"{name or path.name}: {algorithm} mismatch: expected {want}, got {got[algorithm]}. "
                                f"The file was kept as {kept}. If the host published a new version, check "
                                "the dataset card; otherwise delete that file and download again.")


def _range_start(content_range: str | None) -> int | None:
    match = re.match(r"bytes (\d+)-\d+/", content_range or "")
    return int(match.group(1)) if match else None


DEFAULT_TIMEOUT_S = 20.0
"""Socket timeout of one connection attempt or one read (seconds)."""
DEFAULT_DEADLINE_S = 120.0
"""The longest :func:`download` waits without receiving a byte, over all its attempts (seconds)."""


class _Stall:
    """How long a download has gone without receiving a byte, against its budget."""

    def __init__(self, budget_s: float):
        self.budget_s = budget_s
        self.reset()

    def reset(self) -> None:
        self.since = time.monotonic()

    def waited(self) -> float:
        return time.monotonic() - self.since

    def left(self) -> float:
        return self.budget_s - self.waited()


def _fetch_into(url: str, part: Path, label: str, progress: bool, timeout: float, stall: _Stall) -> None:
    """One HTTP request appending to ``part`` from its current size; raises on a short body.

    Every block received resets ``stall``; a socket that stays silent for ``timeout`` seconds
    (or what is left of the stall budget) raises ``TimeoutError``.
    """
    start = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT, **({"Range": f"bytes={start}-"} if start else {})}
    timeout = max(0.05, min(timeout, stall.left()))
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and start:  # nothing left to send: the part may already be whole
            total = re.search(r"/(\d+)", error.headers.get("Content-Range") or "")
            if total and int(total.group(1)) == start:
                return
            raise DownloadError(f"{url}: the server refuses to resume {part} at byte {start} (HTTP 416); "
                                "delete that .part file and download again") from None
        raise
    with response:
        stall.reset()
        resumed = start > 0 and response.status == 206
        if resumed and _range_start(response.headers.get("Content-Range")) != start:
            raise DownloadError(f"{url}: the server resumed at the wrong offset "
                                f"({response.headers.get('Content-Range')}, wanted byte {start})")
        if not resumed:
            start = 0  # the server ignored the Range header: start again
        length = response.headers.get("Content-Length")
        total = start + int(length) if length is not None else None
        try:
            out = open(part, "ab" if resumed else "wb")
        except OSError as error:
            raise describe_os_error(error, part) from error
        with out, Progress(total or 0, label, "B", enabled=progress, unit_scale=True, initial=start) as bar:
            while block := response.read1(1 << 20):  # what has arrived, so a slow host still shows progress
                try:
                    out.write(block)
                except OSError as error:
                    raise describe_os_error(error, part) from error
                stall.reset()
                bar.update(len(block))
    if total is not None and part.stat().st_size < total:
        raise http.client.IncompleteRead(b"", total - part.stat().st_size)


def _why(error: BaseException) -> str:
    if isinstance(error, (TimeoutError, socket.timeout)) or "timed out" in str(error):
        return "no answer (timed out)"
    reason = getattr(error, "reason", None)
    return f"{type(error).__name__}: {reason or error}"


def download(url: str, dest: str | Path, sha256: str | None = None, md5: str | None = None,
             sha1: str | None = None, progress: bool = True, retries: int = 3, retry_wait: float = 2.0,
             timeout: float = DEFAULT_TIMEOUT_S, deadline_s: float = DEFAULT_DEADLINE_S) -> Path:
    """Download ``url`` to ``dest`` with resume and checksum verification; return ``dest``.

    Bytes go to ``dest.part`` first; an interrupted transfer is resumed with an HTTP Range
    request (``retries`` times in this call, and again by the next call), and only a complete,
    verified file is renamed to ``dest``. An existing ``dest`` is verified, not downloaded
    again. A checksum mismatch raises :class:`ChecksumError` and keeps the file (renamed).

    Bounded waiting: one connection attempt or read waits at most ``timeout`` seconds, and the
    call gives up (:class:`DownloadError`, naming the URL and what was kept) once it has
    received nothing for ``deadline_s`` seconds in all, retries and pauses included; a slow
    download that keeps receiving bytes is never cut off. With ``progress`` it says what it
    waits for (``connecting to <host> ...``) and why it retries.
    """
    dest = Path(dest)
    expected = {k: v for k, v in (("sha256", sha256), ("md5", md5), ("sha1", sha1)) if v}
    if dest.is_file():
        verify_checksums(dest, expected)
        return dest
    ensure_writable_dir(dest.parent)
    part = dest.with_name(dest.name + ".part")
    host = urllib.parse.urlsplit(url).netloc or url
    stall = _Stall(deadline_s)
    if progress:
        print(f"{dest.name}: connecting to {host} ...", flush=True)
    for attempt in range(retries + 1):
        try:
            _fetch_into(url, part, dest.name, progress, timeout, stall)
            break
        except urllib.error.HTTPError as error:
            if error.code < 500 and error.code != 429:
                raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from None
            failure: Exception = error
        except OutputError:
            raise
        except (OSError, http.client.HTTPException) as error:
            failure = error
        kept = part.stat().st_size if part.exists() else 0
        pause = retry_wait * 2 ** attempt
        if attempt == retries or stall.left() <= 0:
            gave_up = f"nothing received for {stall.waited():.0f} s" if stall.left() <= 0 else \
                f"{retries + 1} attempts"
            what = f"{kept} bytes kept in {part}: run again to resume" if kept else \
                "no byte was received, so nothing was kept: run again later to retry"
            raise DownloadError(f"{url}: download failed after {gave_up} ({_why(failure)}); {what}") from None
        pause = max(0.0, min(pause, stall.left()))
        if progress:
            print(f"{dest.name}: {_why(failure)} from {host}; retrying in {pause:.0f} s "
                  f"(attempt {attempt + 2} of {retries + 1}; giving up after {deadline_s:.0f} s without data)",
                  flush=True)
        time.sleep(pause)
    verify_checksums(part, expected, name=dest.name)
    part.replace(dest)
    return dest


# ---------------------------------------------------------------------------------------------
# Safe extraction of zip, tar and RAR archives
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _Member:
    name: str  # normalised relative POSIX path
    kind: str  # file | dir | symlink | hardlink
    size: int
    handle: object
    target: str = ""


_READ_ERRORS = (rarfile.Error, zipfile.BadZipFile, tarfile.TarError, EOFError)


def _refuse(archive: Path, raw: str, why: str) -> UnsafeArchiveError:
    return UnsafeArchiveError(f"{archive}: refusing member {raw!r}: {why}; nothing was extracted")


def _safe_name(archive: Path, raw: str) -> str:
    name = raw.replace("\\", "/")
    if "\x00" in name:
        raise _refuse(archive, raw, "NUL byte in the name")
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        raise _refuse(archive, raw, "absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _refuse(archive, raw, "'..' in the path")
    return "/".join(parts)


def _check_link(archive: Path, member: _Member) -> None:
    target = member.target.replace("\\", "/")
    if target.startswith("/") or re.match(r"[A-Za-z]:", target):
        raise _refuse(archive, member.name, f"link to the absolute path {member.target!r}")
    base = posixpath.dirname(member.name) if member.kind == "symlink" else ""
    resolved = posixpath.normpath(posixpath.join(base, target))
    if resolved == ".." or resolved.startswith("../"):
        raise _refuse(archive, member.name, f"link to {member.target!r} points outside the destination")


def _checked(archive: Path, member: _Member) -> _Member:
    """``member`` with a normalised name, or :class:`UnsafeArchiveError`."""
    member = dataclasses.replace(member, name=_safe_name(archive, member.name))
    if member.kind == "hardlink":
        member = dataclasses.replace(member, target=_safe_name(archive, member.target))
    if member.kind in ("symlink", "hardlink"):
        _check_link(archive, member)
    return member


def _zip_members(archive: Path, zf: zipfile.ZipFile) -> list[_Member]:
    members = []
    for info in zf.infolist():
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            members.append(_Member(info.filename, "symlink", 0, info, zf.read(info).decode("utf-8", "replace")))
        else:
            members.append(_Member(info.filename, "dir" if info.is_dir() else "file", info.file_size, info))
    return members


def _tar_members(archive: Path, tf: tarfile.TarFile) -> list[_Member]:
    members = []
    for info in tf.getmembers():
        if info.issym() or info.islnk():
            members.append(_Member(info.name, "symlink" if info.issym() else "hardlink", 0, info, info.linkname))
        elif info.isdir() or info.isfile():
            members.append(_Member(info.name, "dir" if info.isdir() else "file", info.size, info))
        else:
            raise _refuse(archive, info.name, "device, FIFO or other special file")
    return members


def _rar_members(archive: Path, rf: rarfile.RarFile) -> list[_Member]:
    members, needs_tool = [], False
    for info in rf.infolist():
        if info.needs_password():
            raise ArchiveError(f"{archive}: member {info.filename!r} is password-protected; not supported")
        if info.is_symlink():
            target = info.file_redir[2] if info.file_redir else rf.read(info).decode("utf-8", "replace")
            members.append(_Member(info.filename, "symlink", 0, info, target))
        elif info.file_redir:
            raise _refuse(archive, info.filename, "hard link or file-copy entry")
        elif info.is_dir():
            members.append(_Member(info.filename, "dir", 0, info))
        else:
            members.append(_Member(info.filename, "file", info.file_size, info))
            needs_tool |= info.compress_type != rarfile.RAR_M0
    if needs_tool:
        try:
            rarfile.tool_setup()
        except rarfile.RarCannotExec:
            raise ArchiveError(f"{archive}: its members are compressed and Python cannot decompress RAR by "
                               f"itself; install a RAR tool, {RAR_TOOLS_HINT}, then run again") from None
    return members


def _open_archive(archive: Path) -> tuple[object, Callable]:
    """The open archive and the function listing its members."""
    if not archive.is_file():
        raise ArchiveError(f"{archive}: file does not exist")
    formats = ((rarfile.is_rarfile, rarfile.RarFile, _rar_members),
               (zipfile.is_zipfile, zipfile.ZipFile, _zip_members),
               (tarfile.is_tarfile, tarfile.open, _tar_members))
    for is_format, open_format, lister in formats:
        if is_format(archive):
            try:
                return open_format(archive), lister
            except _READ_ERRORS as error:
                raise ArchiveError(f"{archive}: cannot read the archive ({type(error).__name__}: {error})") from None
    raise ArchiveError(f"{archive}: not a zip, tar or RAR archive")


def _inside(root: str, path: str) -> bool:
    return path == root or path.startswith(root + os.sep)


def _write_member(archive: Path, tmp: Path, member: _Member, opener: Callable[[object], IO[bytes]]) -> None:
    path = tmp / member.name
    real_root = os.path.realpath(tmp)
    if not _inside(real_root, os.path.realpath(path.parent)):
        raise _refuse(archive, member.name, "its folder is a link that leads outside the destination")
    if member.kind == "dir":
        path.mkdir(parents=True, exist_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.is_file():
        path.unlink()  # a later member of the same name wins, as with tar
    if member.kind == "symlink":
        os.symlink(member.target, path)
    elif member.kind == "hardlink":
        source = tmp / member.target
        if source.is_symlink() or not source.is_file():
            raise _refuse(archive, member.name, f"hard link to {member.target!r}, which is not a file "
                                                "extracted before it")
        shutil.copyfile(source, path)
    else:
        with opener(member.handle) as src, open(path, "xb") as out:
            shutil.copyfileobj(src, out, 1 << 20)


def _escaping_links(tmp: Path) -> list[str]:
    real_root = os.path.realpath(tmp)
    bad = []
    for folder, dirs, files in os.walk(tmp):
        for name in dirs + files:
            path = os.path.join(folder, name)
            if os.path.islink(path) and not _inside(real_root, os.path.realpath(path)):
                bad.append(os.path.relpath(path, tmp))
    return bad


def safe_extract(archive: str | Path, dest: str | Path, progress: bool = True) -> Path:
    """Extract a zip, tar(.gz/.bz2/.xz) or RAR archive into the new folder ``dest``.

    Every member is checked before anything is written: absolute paths, ``..`` components,
    links pointing outside ``dest`` and special files are refused with
    :class:`UnsafeArchiveError`. Members are written to ``.<dest>.partial`` beside ``dest``,
    which is renamed to ``dest`` only when complete; so ``dest`` existing means a finished
    extraction (it is returned as is), and a rerun after an interruption starts afresh.
    RAR members that are stored (not compressed) need no external tool; compressed ones need
    ``unrar``, ``unar`` or ``bsdtar`` (a clear :class:`ArchiveError` says which to install).
    """
    archive, dest = Path(archive), Path(dest)
    if dest.exists():
        return dest
    handle, lister = _open_archive(archive)
    opener = handle.extractfile if isinstance(handle, tarfile.TarFile) else handle.open
    tmp = dest.with_name(f".{dest.name}.partial")
    with handle:
        try:
            members = [_checked(archive, m) for m in lister(archive, handle)]
        except _READ_ERRORS as error:
            raise ArchiveError(f"{archive}: cannot list the archive ({type(error).__name__}: {error})") from None
        members = [m for m in members if m.name]
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            with Progress(sum(m.size for m in members), f"extracting {archive.name}", "B", enabled=progress,
                          unit_scale=True) as bar:
                for member in members:
                    _write_member(archive, tmp, member, opener)
                    bar.update(member.size)
        except UnsafeArchiveError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        except _READ_ERRORS as error:
            raise ArchiveError(f"{archive}: extraction failed ({type(error).__name__}: {error}); "
                               "the archive may be truncated or corrupt") from None
    escaping = _escaping_links(tmp)
    if escaping:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _refuse(archive, escaping[0], "a chain of links leads outside the destination")
    tmp.replace(dest)
    return dest


def unpack(archive: str | Path, dest: str | Path, progress: bool = True) -> Path:
    """:func:`safe_extract`, then the same for every RAR found inside (HMDB51 is a RAR of RARs).

    Each inner ``X.rar`` is extracted to ``X.rar.d`` beside it and then deleted; a rerun
    after an interruption picks up where it stopped.
    """
    dest = safe_extract(archive, dest, progress)
    inner = sorted(p for p in dest.rglob("*.rar") if p.is_file() and not p.is_symlink())
    with Progress(len(inner), f"inner archives of {Path(archive).name}", "archive", enabled=progress) as bar:
        for nested in inner:
            safe_extract(nested, nested.with_name(nested.name + ".d"), progress=False)
            nested.unlink()
            bar.update()
    return dest


