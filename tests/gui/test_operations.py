"""Workers: results and readable failures arrive on the GUI thread."""

from __future__ import annotations

import threading

from PySide6.QtCore import QThread

from gui.operations import TaskManager, describe


def test_success_is_delivered_on_the_gui_thread(qtbot) -> None:
    tasks = TaskManager()
    seen: list[tuple[object, bool]] = []
    worker_threads: list[str] = []

    def work() -> int:
        worker_threads.append(threading.current_thread().name)
        return 42

    with qtbot.waitSignal(tasks.idle, timeout=10_000):
        tasks.run(work, on_success=lambda r: seen.append((r, QThread.currentThread().isMainThread())))
    assert seen == [(42, True)]
    assert worker_threads != [threading.main_thread().name]
    assert not tasks.busy


def test_failure_becomes_a_message(qtbot) -> None:
    tasks = TaskManager()
    messages: list[str] = []

    def boom() -> None:
        raise ValueError("the CA passphrase is wrong")

    with qtbot.waitSignal(tasks.idle, timeout=10_000):
        op = tasks.run(boom, on_failure=messages.append)
    assert messages == ["the CA passphrase is wrong"]
    assert isinstance(op.error, ValueError)


def test_describe() -> None:
    assert describe(KeyError("serial")) == "serial"
    assert describe(RuntimeError()) == "RuntimeError (no details)"
