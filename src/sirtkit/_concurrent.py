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
* :func:`start_worker` forks, first thing in an image command's process, a **worker process** with a small
  heap that imports matplotlib while the command reads its inputs; :func:`offload` then sends it a function
  and small pickled arguments (a figure from 2-D slices and DVH curves), which it runs in a child of its own
  — two figures are drawn side by side — while the command writes its data files. The command's process
  then never imports matplotlib. Nothing is copied on write (the worker was forked before the command's
  arrays existed); arguments and results cross a pipe instead, so only small ones pay.

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

__all__ = ["ChildTask", "ChildTaskError", "Offloaded", "background", "concurrency_enabled", "enable",
           "import_while_waiting", "join_background", "offload", "prewarm", "reuse_freed_memory", "run_in_child",
           "start_worker", "stop_worker", "worker_started"]

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
            _kill_and_reap(pid)
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def _kill_and_reap(pid: int) -> None:
    """SIGKILL child ``pid`` and wait for it (either may already have happened)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _pickled_call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
    """In a child process: the pickled outcome of ``fn(*args, **kwargs)``; an exception carries the child's
    traceback as a note."""
    try:
        return _pickled_outcome(True, fn(*args, **kwargs))
    except BaseException as err:
        if hasattr(err, "add_note"):
            err.add_note("in the worker process:\n" + "".join(traceback.format_exception(err)))
        return _pickled_outcome(False, err)


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
        return ChildTask(None, None, _run_inline(fn, args, kwargs), label)
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
            outcome = _pickled_call(fn, args, kwargs)
            with os.fdopen(write_fd, "wb") as pipe:
                pipe.write(outcome)
        except BaseException:
            code = 70
        finally:
            os._exit(code)
    os.close(write_fd)
    return ChildTask(pid, read_fd, None, label)


# ----------------------------------------------------------------------------------------- the worker
_WORD = 8  # bytes of each little-endian integer framing a message on the worker's pipes


class Offloaded(Generic[T]):
    """A function submitted to the worker (or already run inline); :meth:`result` collects it."""

    def __init__(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any],
                 worker: _Worker | None, index: int) -> None:
        self._call = (fn, args, kwargs)
        self._worker = worker
        self._index = index
        self._outcome: tuple[bool, Any] | None = None
        if worker is None:
            self._outcome = _run_inline(fn, args, kwargs)

    def result(self) -> T:
        """The function's return value; its exception is re-raised here. A worker that ended without
        answering (killed, out of memory) is not an error of the function: it is run here instead."""
        if self._outcome is None:
            assert self._worker is not None
            outcome = self._worker.outcome(self._index)
            if not outcome[0] and isinstance(outcome[1], ChildTaskError):
                fn, args, kwargs = self._call
                outcome = _run_inline(fn, args, kwargs)
            self._outcome = outcome
        ok, value = self._outcome
        if ok:
            return value
        raise value

    def __getstate__(self) -> dict[str, Any]:
        """Pickled with its outcome collected (a :class:`DoseResult` holding its figures can be sent to another
        process); the worker's pipes stay here."""
        with contextlib.suppress(Exception):
            self.result()
        return {**self.__dict__, "_worker": None}


def _run_inline(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[bool, Any]:
    try:
        return True, fn(*args, **kwargs)
    except Exception as err:
        return False, err


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_exactly(stream: Any, size: int) -> bytes | None:
    """``size`` bytes from ``stream`` (a pipe: reads may return less), or None at end of file before."""
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _die_with_parent() -> None:
    """Linux: have the kernel kill this process when its parent ends (prctl PR_SET_PDEATHSIG = SIGKILL)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class _Worker:
    """The parent's end of the worker process. Requests go out in order, each a length-prefixed pickle;
    results come back in any order, each as (request index, length, pickle)."""

    def __init__(self, pid: int, request_fd: int, result_fd: int) -> None:
        self.pid: int | None = pid
        self._request_fd: int | None = request_fd
        self._results = os.fdopen(result_fd, "rb")
        self._sent = 0
        self._received: dict[int, tuple[bool, Any]] = {}
        self._writer: threading.Thread | None = None
        self._broken = False

    def submit(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Offloaded[T]:
        if self._broken or self._request_fd is None:
            return Offloaded(fn, args, kwargs, None, -1)
        try:
            body = pickle.dumps((fn, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # not picklable (a lambda, an open file): run it here
            return Offloaded(fn, args, kwargs, None, -1)
        index, self._sent = self._sent, self._sent + 1
        message = len(body).to_bytes(_WORD, "little") + body
        previous, fd = self._writer, self._request_fd

        def send() -> None:  # in a thread: the worker may be busy and not yet reading its pipe
            if previous is not None:
                previous.join()
            try:
                _write_all(fd, message)
            except OSError:  # the worker is gone: result() runs the function here
                self._broken = True

        self._writer = threading.Thread(target=send, name="sirtkit-worker-send", daemon=True)
        _threads.append(self._writer)  # joined before a fork (join_background)
        self._writer.start()
        return Offloaded(fn, args, kwargs, self, index)

    def outcome(self, index: int) -> tuple[bool, Any]:
        """The outcome of request ``index``: (True, value), (False, exception), or (False, ChildTaskError)
        when the worker ended without answering."""
        while index not in self._received:
            header = _read_exactly(self._results, 2 * _WORD)
            body = None if header is None else _read_exactly(self._results, int.from_bytes(header[_WORD:], "little"))
            if header is None or body is None:
                self._broken = True
                return False, ChildTaskError("the worker process ended without a result")
            try:
                outcome = pickle.loads(body)
            except Exception as err:
                outcome = (False, ChildTaskError(f"unreadable result from the worker ({err})"))
            self._received[int.from_bytes(header[:_WORD], "little")] = outcome
        return self._received.pop(index)

    def stop(self) -> None:
        """End the worker now (its results, if any were wanted, were collected) and reap it; its running
        tasks (in its own children) see their result pipe close and end with it."""
        if self.pid is not None:
            pid, self.pid = self.pid, None
            _kill_and_reap(pid)
        if self._writer is not None:  # a request still being sent fails at once (broken pipe) and ends
            self._writer.join()
        if self._request_fd is not None:
            fd, self._request_fd = self._request_fd, None
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(OSError):
            self._results.close()


_worker: _Worker | None = None


def _run_task(body: bytes, result_fd: int) -> None:
    """In a task process: run one pickled request and write its outcome to ``result_fd``. Never returns."""
    code = 0
    try:
        try:
            fn, args, kwargs = pickle.loads(body)
        except BaseException as err:  # e.g. the function's module fails to import here
            outcome = _pickled_outcome(False, err)
        else:
            outcome = _pickled_call(fn, args, kwargs)
        _write_all(result_fd, outcome)
    except BaseException:
        code = 70
    finally:
        os._exit(code)


class _Tasks:
    """The worker's side: each request runs in a child of the worker (forked with the modules imported so
    far), so that the worker takes the next request at once and two figures are drawn side by side; each
    child's outcome is relayed to the parent, tagged with its request index, when the child has finished."""

    def __init__(self, request_fd: int, result_fd: int) -> None:
        self.requests = os.fdopen(request_fd, "rb", buffering=0)
        self.result_fd = result_fd
        self.next_index = 0
        self.running: dict[int, tuple[int, int, list[bytes]]] = {}  # task's pipe → (index, pid, chunks)
        self.open = True

    def pump(self, timeout: float | None) -> None:
        """Wait up to ``timeout`` (None: until something happens) for a request or a finished task; handle it."""
        import select

        watched = [*([self.requests.fileno()] if self.open else []), *self.running]
        readable, _, _ = select.select(watched, [], [], timeout)
        for fd in readable:
            if self.open and fd == self.requests.fileno():
                self._take_request()
            else:
                self._collect(fd)

    def _take_request(self) -> None:
        header = _read_exactly(self.requests, _WORD)
        body = None if header is None else _read_exactly(self.requests, int.from_bytes(header, "little"))
        if body is None:  # the parent closed its end (or exited): no more requests
            self.open = False
            return
        index, self.next_index = self.next_index, self.next_index + 1
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            _die_with_parent()  # a task ends with the worker (stop_worker kills it)
            for fd in (read_fd, self.requests.fileno(), self.result_fd, *self.running):
                os.close(fd)
            _run_task(body, write_fd)
        os.close(write_fd)
        self.running[read_fd] = (index, pid, [])

    def _collect(self, fd: int) -> None:
        index, pid, chunks = self.running[fd]
        chunk = os.read(fd, 1 << 20)
        if chunk:
            chunks.append(chunk)
            return
        del self.running[fd]
        os.close(fd)
        _, status = os.waitpid(pid, 0)
        outcome = b"".join(chunks)
        if not outcome:
            code = os.waitstatus_to_exitcode(status)
            outcome = _pickled_outcome(False, ChildTaskError(f"the worker's task ended with status {code} and no result"))
        _write_all(self.result_fd, index.to_bytes(_WORD, "little") + len(outcome).to_bytes(_WORD, "little") + outcome)


def _serve(request_fd: int, result_fd: int, preload: tuple[str, ...]) -> None:
    """The worker process: import ``preload`` (taking requests between imports), then run requests until the
    parent closes the request pipe (or exits) and every task has been answered. Never returns."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it ends the worker
        _die_with_parent()
        # Not niced: a niced worker (nice 10) finished its imports later and was no faster on two cores
        # (issue 9, interleaved runs), and under other load its tasks — the command's figures — would starve.
        tasks = _Tasks(request_fd, result_fd)
        for name in preload:
            tasks.pump(0)  # a request that came early starts now, with what is imported so far
            with contextlib.suppress(Exception):
                importlib.import_module(name)
        while tasks.open or tasks.running:
            tasks.pump(None)
    except BaseException:
        code = 70
    finally:
        os._exit(code)


def start_worker(preload: tuple[str, ...] = ()) -> bool:
    """Fork the worker process, which imports ``preload`` now and later runs what :func:`offload` sends it.

    Call it first thing in a command's process, before any thread starts and before the large imports
    (the child is forked with a small heap: nothing is copied on write later, unlike :func:`run_in_child`).
    The worker ignores Ctrl-C and ends when the parent closes its pipe, exits or calls :func:`stop_worker`
    (its tasks end with it). Returns whether a worker runs (not without concurrency, see
    :func:`enable`). Functions it runs must not print, and their arguments and results must pickle.
    """
    global _worker
    if _worker is not None:
        return True
    if not concurrency_enabled() or any(t.is_alive() for t in threading.enumerate() if t is not threading.main_thread()):
        return False
    request_read, request_write = os.pipe()
    result_read, result_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: never returns
        os.close(request_write)
        os.close(result_read)
        _serve(request_read, result_write, preload)
    os.close(request_read)
    os.close(result_write)
    _worker = _Worker(pid, request_write, result_read)
    return True


def worker_started() -> bool:
    """Whether :func:`start_worker` forked a worker in this process (and it was not stopped)."""
    return _worker is not None


def offload(fn: Callable[..., T], *args: Any, **kwargs: Any) -> Offloaded[T]:
    """Run ``fn(*args, **kwargs)`` in the worker process when one runs, else here and now.

    For drawing figures while the command writes its data files: ``fn`` must be a module-level function. Its
    arguments are pickled through a pipe, so they should be small — 2-D slices and curves; a whole volume
    (``compare``'s γ map, one dose grid) costs a copy, and image-sized work that must send several volumes
    each way is better done here (measured for the VSV convolution, issue 9). The outcome is the same
    either way; :meth:`Offloaded.result` re-raises the function's exception.
    """
    if _worker is None or not concurrency_enabled():
        return Offloaded(fn, args, kwargs, None, -1)
    return _worker.submit(fn, args, kwargs)


def stop_worker() -> None:
    """End the worker process, if any (the command's entry point does, once the command has finished)."""
    global _worker
    if _worker is not None:
        worker, _worker = _worker, None
        worker.stop()


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
