"""Leaf helpers every stage uses: the failure record, the process pool, atomic writes, checksums
and progress reporting. Imports nothing from the course.

* :class:`Failure`: one input that could not be processed, and why (never raised: collected);
* :func:`run_jobs` / :func:`parallel_map`: work over processes from one warm pool, reused
  across passes, that stops promptly on Ctrl-C;
* :func:`atomic_path` and friends: a file is either absent or whole, never partial;
  :func:`remove_stale_temps` deletes what killed writers left behind;
* :func:`sha256_file`: the one file checksum;
* :class:`Progress`: a bar where a person watches, one summary line in logs and executed notebooks.
"""
from __future__ import annotations

import atexit
import contextlib
import dataclasses
import errno
import hashlib
import multiprocessing
import os
import shutil
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence


class CourseError(Exception):
    """Base of the course's errors about inputs and settings: reported as a message, never a traceback."""


@dataclasses.dataclass(frozen=True)
class Failure:
    """One input that could not be processed, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class OutputError(CourseError, OSError):
    """An output path cannot be written; the message names the path and the problem."""

    def __str__(self) -> str:  # the message alone, without OSError's "[Errno 28]" prefix
        return self.strerror or super().__str__()


# --------------------------------------------------------------------------- registries


def registrar(table: dict[str, Callable], kind: str) -> Callable[[str], Callable[[Callable], Callable]]:
    """The decorator factory of one registry: ``@register("name")`` adds a function to ``table``
    (a name used twice is an error naming the ``kind``), so adding one touches one place."""
    def register(name: str) -> Callable[[Callable], Callable]:
        def add(function: Callable) -> Callable:
            if name in table:
                raise ValueError(f"a {kind} named {name!r} is already registered")
            table[name] = function
            return function
        return add
    return register


# --------------------------------------------------------------------------- checksums


def file_digests(path: str | Path, algorithms: Sequence[str] = ("sha256",), chunk: int = 1 << 20) -> dict[str, str]:
    """Hex digests of a file for each of ``algorithms`` (hashlib names), in one read."""
    hashes = {name: hashlib.new(name) for name in algorithms}
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            for digest in hashes.values():
                digest.update(block)
    return {name: digest.hexdigest() for name, digest in hashes.items()}


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file: the checksum of every manifest."""
    return file_digests(path)["sha256"]


# --------------------------------------------------------------------------- atomic writes

TEMP_MARK = ".tmp"


def temp_path(path: str | Path) -> Path:
    """The temporary sibling a writer of ``path`` uses: hidden, tagged with this process id,
    keeping the suffix (so writers that choose a format by suffix still work; Keras also
    wants the ``.weights`` of ``.weights.h5``)."""
    path = Path(path)
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".weights.h5") else path.suffix
    return path.with_name(f".{path.name[:-len(suffix)] if suffix else path.name}.{os.getpid()}{TEMP_MARK}{suffix}")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it is renamed onto ``path``, on any error
    (Ctrl-C included) it is removed. Readers never see a partial ``path``."""
    path = Path(path)
    ensure_writable_dir(path.parent)
    tmp = temp_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as error:
        raise describe_os_error(error, path) from error
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def remove_stale_temps(folder: str | Path, recursive: bool = True) -> int:
    """Delete temporaries (files or folders named by :func:`temp_path`) whose writing process
    no longer runs; returns how many were removed.

    Temporaries of live processes and anything not named like a course temporary are left alone.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    removed = 0
    for tmp in sorted((folder.rglob if recursive else folder.glob)(f".*{TEMP_MARK}*")):
        pid = _temp_pid(tmp.name)
        if pid is None or process_alive(pid) or tmp.is_symlink() or not tmp.exists():
            continue
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        removed += 1
    return removed


def _temp_pid(name: str) -> int | None:
    head = name.split(TEMP_MARK, 1)[0]
    pid = head.rsplit(".", 1)[-1]
    return int(pid) if pid.isdigit() else None


def process_alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a killed process nobody reaped, a zombie, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def check_writable(path: str | Path, folder: bool) -> None:
    """Raise :class:`OutputError` unless ``path`` (a file, or a folder when ``folder``) can be
    created or replaced. Creates nothing, so a refused command leaves no trace."""
    path = Path(path)
    if path.exists():
        if folder and not path.is_dir():
            raise OutputError(errno.ENOTDIR, f"{path}: is a file, not a folder")
        if not folder and path.is_dir():
            raise OutputError(errno.EISDIR, f"{path}: is a folder, not a file")
    start = path if folder else path.parent
    for parent in [start, *start.parents]:
        if not parent.exists() and not parent.is_symlink():
            continue
        if not parent.is_dir():
            raise OutputError(errno.ENOTDIR, f"{parent}: is a file, so {path} cannot be written under it")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise OutputError(errno.EACCES, f"{parent}: not writable (permission denied or a read-only "
                                            f"disk), so {path} cannot be written")
        return


def ensure_writable_dir(folder: str | Path) -> Path:
    """:func:`check_writable` for a folder, then create it: raises :class:`OutputError` naming
    the path and the problem (a file in the way, no permission, a read-only or full disk)."""
    folder = Path(folder)
    check_writable(folder, folder=True)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise describe_os_error(error, folder) from error
    return folder


_OS_PROBLEMS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
                errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
                errno.EPERM: "permission denied", errno.EISDIR: "is a folder, not a file",
                errno.ENOTDIR: "a part of the path is a file, not a folder"}


def describe_os_error(error: OSError, path: str | Path) -> OutputError:
    """An :class:`OutputError` that names ``path`` and says what went wrong in words."""
    if isinstance(error, OutputError):
        return error
    problem = _OS_PROBLEMS.get(error.errno, error.strerror or str(error))
    return OutputError(error.errno or errno.EIO, f"{path}: cannot write ({problem})")


# --------------------------------------------------------------------------- progress


def _interactive() -> str:
    """"widget" in a notebook with ipywidgets, "text" on a terminal, "" elsewhere (logs, papermill)."""
    setting = os.environ.get("COURSE_PROGRESS", "auto")
    if setting in ("0", "off", "summary"):
        return ""
    if setting == "text":
        return "text"
    if "ipykernel" in sys.modules:
        try:
            import ipywidgets  # noqa: F401
        except ImportError:
            return ""
        return "widget"
    return "text" if getattr(sys.stderr, "isatty", lambda: False)() else ""


class Progress:
    """A progress bar for ``total`` items, or, where nobody watches a bar (an executed
    notebook, a log), one line when the work ends: ``desc: 672 clips in 3.1 s``.

    Use as a context manager and call :meth:`update`. ``enabled=False`` prints nothing.
    """

    def __init__(self, total: int, desc: str = "", unit: str = "item", enabled: bool = True,
                 unit_scale: bool = False, initial: int = 0):
        self.total, self.desc, self.unit, self.n = total, desc, unit, initial
        self.enabled = enabled and total > 0
        self._start = time.perf_counter()
        self._bar = None
        kind = _interactive() if self.enabled else ""
        if kind:
            if kind == "widget":
                from tqdm.notebook import tqdm
            else:
                from tqdm import tqdm
            self._bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=unit_scale, initial=initial,
                             unit_divisor=1024 if unit_scale else 1000)

    def update(self, n: int = 1) -> None:
        self.n += n
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.enabled:
            done = _count(self.n, self.unit)
            print(f"{self.desc}: {done} in {time.perf_counter() - self._start:.1f} s", flush=True)
            self.enabled = False

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, kind, *exc) -> None:
        if kind is None:
            self.close()
        elif self._bar is not None:
            self._bar.close()


def _count(n: int, unit: str) -> str:
    if unit == "B":
        for scale, name in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
            if n >= scale:
                return f"{n / scale:.1f} {name}"
        return f"{n} B"
    return f"{n} {unit}{'' if n == 1 or unit.endswith('s') else 's'}"


# --------------------------------------------------------------------------- process pool

_POOL: dict[str, Any] = {"executor": None, "workers": 0}


def _worker_init() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        import cv2

        cv2.setNumThreads(1)  # the processes already share the cores
    except ImportError:
        pass


def _pool(workers: int) -> ProcessPoolExecutor:
    """The warm pool of ``workers`` processes, started on first use and reused by later passes.

    It spawns fresh interpreters: forking a process whose OpenCV or TensorFlow threads have
    run (a notebook kernel, a benchmark) can deadlock the children. Spawning costs about a
    second, once per session instead of once per pass.
    """
    if _POOL["executor"] is None or _POOL["workers"] != workers:
        shutdown_pool()
        _POOL["executor"] = ProcessPoolExecutor(max_workers=workers, initializer=_worker_init,
                                                mp_context=multiprocessing.get_context("spawn"))
        _POOL["workers"] = workers
    return _POOL["executor"]


def shutdown_pool(kill: bool = False) -> None:
    """Stop the warm pool (``kill``: at once, dropping queued and running jobs)."""
    executor = _POOL["executor"]
    _POOL["executor"], _POOL["workers"] = None, 0
    if executor is None:
        return
    if kill:
        processes = list((getattr(executor, "_processes", None) or {}).values())
        for process in processes:
            process.terminate()
        for process in processes:  # gone before the caller cleans up what they were writing
            process.join(timeout=2)
    executor.shutdown(wait=not kill, cancel_futures=True)


atexit.register(shutdown_pool)


def run_jobs(function: Callable, jobs: dict, workers: int) -> Iterator[tuple[object, object]]:
    """(key, function(job)) as jobs finish: in this process for one worker, else in the warm pool.

    At most ``2 * workers`` jobs are queued at a time, so Ctrl-C stops the work within one
    job: the pool is killed, completed results have been yielded (and written, by writers
    that write as they go) and :class:`KeyboardInterrupt` propagates for the caller to report.
    OpenCV's thread count, which a job may lower, is restored after an in-process run.
    """
    if workers <= 1 or len(jobs) <= 1:
        threads = _cv2_threads()
        try:
            for key, job in jobs.items():
                yield key, function(job)
        finally:
            _cv2_threads(threads)
        return
    pool = _pool(min(workers, os.cpu_count() or workers))
    pending = iter(jobs.items())
    running: dict[Future, object] = {}
    try:
        while True:
            while len(running) < 2 * workers:
                item = next(pending, None)
                if item is None:
                    break
                running[pool.submit(function, item[1])] = item[0]
            if not running:
                return
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                yield running.pop(future), future.result()
    except (KeyboardInterrupt, BrokenProcessPool):
        shutdown_pool(kill=True)
        raise
    except BaseException:
        for future in running:
            future.cancel()
        raise


def _cv2_threads(value: int | None = None) -> int:
    try:
        import cv2
    except ImportError:
        return 0
    if value is not None:
        cv2.setNumThreads(value)
    return cv2.getNumThreads()


def parallel_map(function: Callable, items: Sequence, workers: int = 2, progress: bool = True,
                 desc: str = "", unit: str = "item") -> list:
    """``[function(x) for x in items]`` in order, over ``workers`` processes, with progress."""
    results: dict[int, object] = {}
    with Progress(len(items), desc, unit, enabled=progress) as bar:
        for index, result in run_jobs(function, dict(enumerate(items)), workers):
            results[index] = result
            bar.update()
    return [results[i] for i in range(len(items))]
