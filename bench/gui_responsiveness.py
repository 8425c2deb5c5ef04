"""How responsive the window stays while slow work runs, and how fast it first paints.

A 5 ms QTimer probe records the longest gap between its ticks (an event-loop
stall) while (1) the Create CA wizard makes an RSA-4096 CA and (2) the Roster
wizard issues a 200-student class list.
Then a fresh process measures the cold start to the first painted main window.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/gui_responsiveness.py [--bundles 200]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, QTimer
from PySide6.QtWidgets import QApplication

PASS = "bench passphrase 1"


class StallProbe:
    """Ticks every 5 ms; the worst gap beyond 5 ms is how long the GUI thread was blocked."""

    def __init__(self) -> None:
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.worst = 0.0
        self.ticks = 0
        self._last = 0

    def _tick(self) -> None:
        now = self.clock.elapsed()
        self.worst = max(self.worst, float(now - self._last))
        self._last = now
        self.ticks += 1

    def start(self) -> None:
        self.worst, self.ticks = 0.0, 0
        self.clock.start()
        self._last = 0
        self.timer.start()

    def stop(self) -> float:
        self.timer.stop()
        return self.worst


def wait(app: QApplication, condition: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    loop = QEventLoop()
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError
        loop.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)


def create_rsa4096_ca(app: QApplication, root: Path) -> tuple[float, float]:
    from core.keys import KeyType
    from gui.main_window import MainWindow

    window = MainWindow(root)
    window.show()
    wizard = window.open_create_ca()
    wizard.names_page.common_name.setText("Bench CA")
    index = wizard.key_page.key_type.findData(KeyType.RSA_4096)
    wizard.key_page.key_type.setCurrentIndex(index)
    wizard.setField("passphrase", PASS)
    wizard.setField("confirmation", PASS)
    probe = StallProbe()
    probe.start()
    started = time.perf_counter()
    wizard.accept()
    wait(app, lambda: window.workspace.has_ca() and not window.tasks.busy, 600)
    took = time.perf_counter() - started
    worst = probe.stop()
    window.close()
    return worst, took


def issue_roster_via_wizard(app: QApplication, root: Path, count: int) -> tuple[float, float]:
    """The Roster wizard issuing ``count`` RSA-2048 bundles (worker processes, progress on the GUI)."""
    from core.keys import KeyType
    from core.workspace import Workspace
    from gui.main_window import MainWindow
    from gui.wizards.roster import RosterWizard

    ws = Workspace(root)
    roster = root.parent / "roster.csv"
    roster.write_text("name\n" + "".join(f"Student {i:03d}\n" for i in range(count)), encoding="utf-8")
    window = MainWindow(root)
    window.show()
    window.session.set_authority(ws.load_ca(PASS))
    wizard = RosterWizard(window.session, window.session.authority, window)  # type: ignore[arg-type]
    wizard.file_page.roster.setText(str(roster))
    wizard.file_page.out_dir.setText(str(root.parent / "class"))
    assert wizard.file_page.check()
    del KeyType
    done: list[object] = []
    wizard.finished_batch.connect(done.append)
    wizard.show()
    wizard.next()
    wizard.next()
    probe = StallProbe()
    probe.start()
    started = time.perf_counter()
    wizard.accept()
    wait(app, lambda: bool(done), 1800)
    took = time.perf_counter() - started
    worst = probe.stop()
    wizard.close()
    window.close()
    return worst, took


COLD_START = r"""
import os, sys, time
t0 = float(sys.argv[1])
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, sys.argv[2])
from PySide6.QtCore import QEvent, QObject, QSettings
from PySide6.QtWidgets import QApplication
# recent workspaces and geometry go to the bench's own folder, never the user's settings
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, sys.argv[4])
app = QApplication([])
from gui.main_window import MainWindow
w = MainWindow(sys.argv[3])
class First(QObject):
    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Paint:
            print(f"{time.time() - t0:.3f}", flush=True)
            os._exit(0)
        return False
f = First(); w.installEventFilter(f); w.show(); app.exec()
"""


def cold_start(root: Path) -> float:
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", COLD_START, str(t0), str(Path(__file__).resolve().parent.parent),
                          str(root), str(root.parent / "settings")], capture_output=True, text=True, timeout=120,
                         check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bundles", type=int, default=200)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        # the in-process part too: the bench's windows must not land in the user's recent workspaces
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(Path(tmp) / "settings"))
        worst_ca, took_ca = create_rsa4096_ca(app, root)
        print(f"RSA-4096 CA via the wizard: {took_ca:.1f} s, worst event-loop stall {worst_ca:.0f} ms")
        worst_b, took_b = issue_roster_via_wizard(app, root, args.bundles)
        print(f"{args.bundles}-student roster via the Roster wizard (P-256, modern): {took_b:.1f} s "
              f"({took_b / args.bundles * 1000:.0f} ms each), worst event-loop stall {worst_b:.0f} ms")
        starts = sorted(cold_start(root) for _ in range(5))
        print(f"cold start to first painted window: median {starts[2]:.2f} s "
              f"(min {starts[0]:.2f}, max {starts[-1]:.2f})")


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    # Skip interpreter teardown: with several windows' worth of wrappers alive, PySide6's
    # finalisation order can abort a short-lived script; the figures are already printed.
    os._exit(0)
