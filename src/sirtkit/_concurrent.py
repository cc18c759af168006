"""Use the second core: work in background threads or forked children, imports while waiting.

Issue 9 ("as fast as the data allows") measures whole commands in wall time on the 2-core machines the
project runs on. What this module offers:

* :func:`background` runs NumPy/zlib work that releases the GIL in a daemon thread (an image read ahead
  by :func:`sirtkit.imaging.files.prefetch_nrrd`, an S-value kernel computed while the segmentation is
  read) and hands back a :class:`~concurrent.futures.Future`.
* :func:`prewarm` queues the modules a command will import later (matplotlib, Jinja2) and
  :func:`import_while_waiting` imports them on the main thread while it waits for such a future. An
  earlier version imported them in a thread: the thread then held the GIL against the main thread's own
  NumPy work (each NumPy call could wait up to the 5 ms switch interval): putting the MAA sample's
  segmentation on the SPECT grid took 385 instead of 20 ms (py-spy, whole ``sirtkit predict``). A module that fails to import is skipped and fails again, with its normal
  error, where the command imports it itself.
* :func:`run_in_child` runs a function in a ``fork``-ed child process and hands back its (picklable) result
  or re-raises its exception in the parent (the cohort report draws figures and writes tables in children
  while the parent lays out the PDF). The child shares the parent's memory copy-on-write (no pickling of
  inputs), writes only where it is told, and ends with ``os._exit`` so that none of the parent's atexit
  handlers or output-folder clean-up run in it. Every page either process writes afterwards is copied, so
  it pays only for long, separable work.

Both are off unless the process enables them (:func:`enable`): the ``sirtkit`` command does, first thing,
because it owns its process. A library caller — a notebook, a test, a future web service with its own
threads — gets everything inline, in order, unless it opts in: ``fork`` in a process whose other threads
hold locks is unsafe. They also run inline where ``os.fork`` does not exist (Windows) and when the
environment variable ``SIRTKIT_SERIAL=1`` is set (for debugging and for comparing outputs): results are
the same either way, only the wall time differs.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

__all__ = ["ChildTask", "ChildTaskError", "background", "concurrency_enabled", "enable",
           "import_while_waiting", "join_background", "prewarm", "reuse_freed_memory", "run_in_child"]

T = TypeVar("T")

_threads: list[threading.Thread] = []
_pending: list[str] = []  # modules queued by prewarm()
_enabled = False


def enable(on: bool = True) -> None:
    """Allow (or stop) background threads and forked children in this process (the CLI's entry point does)."""
    global _enabled
    _enabled = on


def concurrency_enabled() -> bool:
    """True when :func:`enable` was called, ``os.fork`` exists and ``SIRTKIT_SERIAL`` is unset (or 0)."""
    return _enabled and hasattr(os, "fork") and os.environ.get("SIRTKIT_SERIAL", "") in ("", "0")


def prewarm(*modules: str) -> None:
    """Queue ``modules`` to be imported while this process would otherwise wait (returns at once).

    They are imported, in order, by :func:`import_while_waiting` — on the main thread, while it waits for
    work running on the second core (an image read ahead): no thread holds the GIL against the main
    thread's own NumPy work. Give only modules the command will import anyway; a module that fails to
    import is skipped here and fails again, with its normal error, where the command imports it.
    """
    if modules and concurrency_enabled():
        _pending.extend(modules)


def import_while_waiting(done: Callable[[], bool]) -> None:
    """Import queued :func:`prewarm` modules one at a time until ``done()`` is true or none is left."""
    while _pending and not done():
        name = _pending.pop(0)
        try:
            importlib.import_module(name)
        except Exception:
            continue


def join_background() -> None:
    """Wait for every :func:`background` thread (before a ``fork``: no lock may be held by another thread)."""
    while _threads:
        _threads.pop().join()


def background(fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
    """Run ``fn(*args, **kwargs)`` in a daemon thread; its :class:`~concurrent.futures.Future` holds the
    result or the exception. Inline (the future already done) unless concurrency is enabled. For NumPy work
    that releases the GIL (an S-value kernel computed while the segmentation is read)."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:  # handed to whoever collects the future
            future.set_exception(err)

    if concurrency_enabled():
        thread = threading.Thread(target=run, name="sirtkit-background", daemon=True)
        _threads.append(thread)  # joined before a fork (join_background)
        thread.start()
    else:
        run()
    return future


class ChildTaskError(RuntimeError):
    """A child process ended without a result (killed, out of memory) or with an exception that cannot be pickled."""


class ChildTask(Generic[T]):
    """A function running in a forked child process (or already run inline); :meth:`result` collects it."""

    def __init__(self, pid: int | None, read_fd: int | None, inline: tuple[bool, Any] | None, label: str) -> None:
        self._pid = pid
        self._fd = read_fd
        self._outcome = inline
        self.label = label

    def _collect(self) -> tuple[bool, Any]:
        if self._outcome is not None:
            return self._outcome
        if self._fd is None or self._pid is None:  # an earlier result() was interrupted part-way
            self.cancel()
            return self._collect()
        chunks = []
        fd, self._fd = self._fd, None  # the file object below owns (and closes) it, even when interrupted
        with os.fdopen(fd, "rb") as pipe:  # read everything first: a full pipe would block the child
            while chunk := pipe.read(1 << 20):
                chunks.append(chunk)
        pid, self._pid = self._pid, None  # reaped below (cancel() must not wait for it again)
        _, status = os.waitpid(pid, 0)
        data = b"".join(chunks)
        if not data:
            code = os.waitstatus_to_exitcode(status)
            how = f"signal {-code}" if code < 0 else f"status {code}"
            self._outcome = (False, ChildTaskError(f"{self.label}: the worker process ended with {how} and no result"))
        else:
            try:
                self._outcome = pickle.loads(data)
            except Exception as err:
                self._outcome = (False, ChildTaskError(f"{self.label}: unreadable result from the worker ({err})"))
        return self._outcome

    def result(self) -> T:
        """The function's return value; its exception is re-raised here (with the child's traceback as a note)."""
        ok, value = self._collect()
        if ok:
            return value
        raise value

    def cancel(self) -> None:
        """Stop a child that is still running and reap it (used when the parent fails first).

        A no-op once the result was collected; safe after a :meth:`result` that an interrupt (Ctrl-C) cut
        short, which may already have closed the pipe or reaped the child.
        """
        if self._outcome is not None:
            return
        self._outcome = (False, ChildTaskError(f"{self.label}: cancelled"))
        if self._pid is not None:
            pid, self._pid = self._pid, None
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def _pickled_outcome(ok: bool, value: Any) -> bytes:
    try:
        return pickle.dumps((ok, value), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as err:
        return pickle.dumps((False, ChildTaskError(f"{type(value).__name__}: {value} (not picklable: {err})")))


def run_in_child(fn: Callable[..., T], *args: Any, label: str = "background task", **kwargs: Any) -> ChildTask[T]:
    """Run ``fn(*args, **kwargs)`` in a forked child process; collect it with :meth:`ChildTask.result`.

    The result (and any exception) must be picklable. The child must not print or use the parent's open
    progress display; it writes files only where ``fn`` is told to. Without fork (see the module docstring)
    ``fn`` runs here, now, and :meth:`ChildTask.result` returns or raises its outcome.
    """
    if not concurrency_enabled():
        try:
            return ChildTask(None, None, (True, fn(*args, **kwargs)), label)
        except Exception as err:
            return ChildTask(None, None, (False, err), label)
    join_background()
    for stream in (sys.stdout, sys.stderr):  # nothing buffered may be written twice
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 0
        try:
            os.close(read_fd)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            try:
                outcome = _pickled_outcome(True, fn(*args, **kwargs))
            except BaseException as err:
                if hasattr(err, "add_note"):
                    err.add_note("in the worker process:\n" + "".join(traceback.format_exception(err)))
                outcome = _pickled_outcome(False, err)
            with os.fdopen(write_fd, "wb") as pipe:
                pipe.write(outcome)
        except BaseException:
            code = 70
        finally:
            os._exit(code)
    os.close(write_fd)
    return ChildTask(pid, read_fd, None, label)


# glibc mallopt parameters (malloc.h): M_TRIM_THRESHOLD = -1, M_MMAP_MAX = -4, M_ARENA_MAX = -8.
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
_TRIM_THRESHOLD_BYTES = 2**31 - 1  # mallopt takes a C int


def reuse_freed_memory() -> None:
    """Let glibc's malloc serve large arrays from the heap and keep freed memory for the next ones.

    By default every array over 32 MB is a fresh ``mmap`` and is returned to the kernel when freed, so each
    new one is faulted in and zeroed again page by page: a dose command spent ≈ 0.5 s of its ≈ 2.4 s CPU in
    those page faults (perf: ``clear_page_erms``), most of it on temporaries the size of the emission image.
    With ``M_MMAP_MAX = 0`` (glibc falls back to ``mmap`` itself when the heap cannot grow) and a high trim
    threshold, freed arrays are reused: system time 0.7 → 0.2 s, peak memory +37 MB (issue 9). One arena
    (``M_ARENA_MAX = 1``): the read-ahead threads allocate from the same reusable heap (a thread's own arena
    cannot grow past 64 MB and mapped each image afresh: +0.2 s system time). Only in a process the
    ``sirtkit`` command owns (not when its commands run inside another program, such as the tests), and only
    for the image commands (a command that forks workers, like ``cohort``, would copy every reused page); a
    no-op where the C library is not glibc (``mallopt`` missing).
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    mallopt(_M_MMAP_MAX, 0)
    mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES)
    mallopt(_M_ARENA_MAX, 1)
