"""Tests of :mod:`sirtkit._concurrent`: the background-import thread and the forked child task."""

from __future__ import annotations

import os
import sys
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
