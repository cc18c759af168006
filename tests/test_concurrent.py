"""Tests of :mod:`sirtkit._concurrent`: the background-import thread, the forked child task and the worker
process of the image commands."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sirtkit import _concurrent
from sirtkit._concurrent import ChildTaskError, prewarm, run_in_child
from sirtkit.errors import InputError


def _write_and_sum(path: Path, values: list[int]) -> int:
    path.write_text(",".join(map(str, values)))
    return sum(values)


def _raise_input_error(name: str) -> None:
    raise InputError(f"{name}: bad value")


def _die() -> None:
    os._exit(9)


def _unpicklable() -> object:
    return lambda: None


@pytest.fixture(params=["fork", "serial"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every behaviour holds with a forked child and with the inline fallback (SIRTKIT_SERIAL=1)."""
    monkeypatch.setenv("SIRTKIT_SERIAL", "1" if request.param == "serial" else "0")
    monkeypatch.setattr(_concurrent, "_enabled", True)
    return str(request.param)


@pytest.fixture(autouse=True)
def _enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    """As the CLI's entry point does (a library caller gets everything inline by default)."""
    monkeypatch.setattr(_concurrent, "_enabled", True)


def test_child_result_and_files(tmp_path: Path, mode: str) -> None:
    task = run_in_child(_write_and_sum, tmp_path / "a.txt", [1, 2, 3])
    assert task.result() == 6
    assert (tmp_path / "a.txt").read_text() == "1,2,3"


def test_child_exception_is_reraised_with_its_type(mode: str) -> None:
    task = run_in_child(_raise_input_error, "dose.nrrd")
    with pytest.raises(InputError, match=r"dose\.nrrd: bad value"):
        task.result()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_child_that_dies_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIRTKIT_SERIAL", "0")
    task = run_in_child(_die, label="figures")
    with pytest.raises(ChildTaskError, match="figures: the worker process ended with status 9"):
        task.result()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_unpicklable_result_is_an_error_not_a_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIRTKIT_SERIAL", "0")
    with pytest.raises(ChildTaskError, match="not picklable"):
        run_in_child(_unpicklable).result()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_cancel_reaps_a_running_child(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("SIRTKIT_SERIAL", "0")
    task = run_in_child(time.sleep, 30)
    task.cancel()
    with pytest.raises(ChildTaskError, match="cancelled"):
        task.result()


def test_large_result_does_not_block_on_the_pipe(mode: str) -> None:
    """A result larger than the pipe buffer (64 KiB) comes back whole (the parent drains before it waits)."""
    data = run_in_child(bytes, 5_000_000).result()
    assert data == bytes(5_000_000)


def test_prewarm_imports_while_waiting_and_skips_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    """Queued modules are imported on this thread while a wait is not over (a failing one is skipped), and
    not once it is."""
    from sirtkit._concurrent import import_while_waiting

    monkeypatch.setenv("SIRTKIT_SERIAL", "0")
    monkeypatch.setattr(_concurrent, "_pending", [])
    for name in ("colorsys", "sndhdr_no_such_module_xyz", "this"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    prewarm("sirtkit_no_such_module_xyz", "colorsys")
    import_while_waiting(lambda: False)
    assert "colorsys" in sys.modules and _concurrent._pending == []
    prewarm("this")
    import_while_waiting(lambda: True)  # the wait is over: nothing imported
    assert "this" not in sys.modules and _concurrent._pending == ["this"]


def test_serial_mode_queues_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIRTKIT_SERIAL", "1")
    monkeypatch.setattr(_concurrent, "_pending", [])
    prewarm("colorsys")
    assert not _concurrent._threads and not _concurrent._pending


def test_off_unless_the_process_enables_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Library callers (notebooks, services) never get a fork or a thread unless they opt in."""
    monkeypatch.setattr(_concurrent, "_enabled", False)
    monkeypatch.setenv("SIRTKIT_SERIAL", "0")
    assert not _concurrent.concurrency_enabled()
    assert run_in_child(os.getpid).result() == os.getpid()  # ran here, inline


def test_background_future_holds_result_or_exception(mode: str) -> None:
    """`background` (a thread when enabled, inline otherwise): the future gives the value or the error."""
    from sirtkit._concurrent import background

    assert background(sum, [1, 2, 3]).result() == 6
    with pytest.raises(InputError, match="bad value"):
        background(_raise_input_error, "x").result()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_cancel_after_an_interrupted_result_is_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while waiting in `result()`: the interrupt propagates, and `cancel()` in the caller's clean-up
    then stops and reaps the child without an error of its own (it used to close the pipe twice: EBADF)."""
    import signal
    import time

    monkeypatch.setenv("SIRTKIT_SERIAL", "0")

    class Interrupted(Exception):
        pass

    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    task = run_in_child(time.sleep, 30)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(Interrupted):
            task.result()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    started = time.monotonic()
    task.cancel()
    task.cancel()  # twice: still a no-op
    assert time.monotonic() - started < 5
    with pytest.raises(ChildTaskError, match="cancelled"):
        task.result()


# ------------------------------------------------------------------------------------- the worker process
def _wait_for(path: str) -> bool:
    """True once ``path`` exists (within 30 s): only another task running at the same time creates it."""
    import time

    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        if os.path.exists(path):
            return True
        time.sleep(0.01)
    return False


def _create(path: str) -> int:
    Path(path).write_text("here")
    return os.getpid()


def _pid_then_sleep(path: str) -> None:
    import time

    Path(path + ".part").write_text(str(os.getpid()))
    os.replace(path + ".part", path)  # whole, at once
    time.sleep(60)


def _die_unless_in(pid: int) -> str:
    """Ends a worker's task process without a result; returns normally in process ``pid``."""
    if os.getpid() != pid:
        os._exit(9)
    return "inline"


def _gone(pid: int) -> bool:
    """The process has ended (no such process, or a zombie not yet reaped by its new parent)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return True


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """A worker process forked from this test process (the command forks its own before any thread)."""
    monkeypatch.setenv("SIRTKIT_SERIAL", "0")
    monkeypatch.setattr(_concurrent, "_enabled", True)
    _concurrent.stop_worker()
    if not _concurrent.start_worker(("json",)):
        pytest.skip("another thread runs in this test process: the worker is not forked")
    assert _concurrent._worker is not None and _concurrent._worker.pid is not None
    yield _concurrent._worker.pid
    _concurrent.stop_worker()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork, /proc")
def test_offloaded_tasks_run_elsewhere_side_by_side_and_answer_in_any_order(tmp_path: Path, worker: int) -> None:
    """Each task runs in a process of its own under the worker: the first task waits for a file only the
    second creates, so both finish only if they run at the same time; results are matched to their tasks."""
    from sirtkit._concurrent import offload

    flag = str(tmp_path / "flag")
    first = offload(_wait_for, flag)
    second = offload(_create, flag)
    assert second.result() != os.getpid()
    assert first.result() is True
    assert offload(sum, [1, 2, 3]).result() == 6


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork, /proc")
def test_offloaded_exception_keeps_its_type_and_the_workers_traceback(worker: int) -> None:
    from sirtkit._concurrent import offload

    with pytest.raises(InputError, match="x: bad value") as caught:
        offload(_raise_input_error, "x").result()
    assert any("in the worker process" in note for note in getattr(caught.value, "__notes__", []))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork, /proc")
def test_a_lost_worker_or_task_is_run_here_instead(worker: int) -> None:
    """A task process that ends without a result, or a killed worker, does not fail the command: the task
    runs in the command's own process (the same function on the same arguments)."""
    import signal

    from sirtkit._concurrent import offload

    assert offload(_die_unless_in, os.getpid()).result() == "inline"
    os.kill(worker, signal.SIGKILL)
    os.waitpid(worker, 0)
    _concurrent._worker.pid = None  # type: ignore[union-attr]  # reaped here
    assert offload(os.getpid).result() == os.getpid()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork, /proc")
def test_unpicklable_arguments_run_here(worker: int) -> None:
    from sirtkit._concurrent import offload

    assert offload(_concurrent.run_in_child, lambda: 5).result().result() == 5  # a lambda: not sent anywhere


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork, /proc")
def test_stop_worker_ends_its_running_tasks(tmp_path: Path, worker: int) -> None:
    """A task still running when the command ends (Ctrl-C, an error) is killed with the worker."""
    import time

    from sirtkit._concurrent import offload

    pid_file = tmp_path / "pid"
    offload(_pid_then_sleep, str(pid_file))
    assert _wait_for(str(pid_file))
    task_pid = int(pid_file.read_text())
    _concurrent.stop_worker()
    deadline = time.monotonic() + 10.0
    while not (_gone(task_pid) and _gone(worker)) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _gone(task_pid) and _gone(worker)


def test_offload_without_a_worker_runs_inline(mode: str) -> None:
    from sirtkit._concurrent import offload

    _concurrent.stop_worker()
    assert offload(os.getpid).result() == os.getpid()
    with pytest.raises(InputError):
        offload(_raise_input_error, "x").result()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork, /proc")
def test_an_offloaded_result_pickles_with_its_outcome(worker: int) -> None:
    """A result holding offloaded figures (DoseResult.figures) can be sent to another process: it pickles
    with its outcome collected, without the worker's pipes."""
    import pickle

    from sirtkit._concurrent import offload

    copy = pickle.loads(pickle.dumps(offload(sum, [1, 2, 3])))
    assert copy.result() == 6
