"""`python main.py --workspace DIR` opens a real X11 window (Xvfb), not only the offscreen platform.

This catches what offscreen tests cannot: missing xcb libraries (Qt 6.5+ needs libxcb-cursor0 and
friends) and the command line's workspace being honoured when the window starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from core.workspace import Workspace
from tests.conftest import need
from tests.gui.conftest import CA_PASSPHRASE

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import sys
sys.path.insert(0, sys.argv[1])
import main
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

def report():
    app = QApplication.instance()
    titles = [w.windowTitle() for w in app.topLevelWidgets() if w.isVisible()]
    print("platform=" + app.platformName(), "titles=" + repr(titles), flush=True)
    for w in app.topLevelWidgets():
        w.close()
    app.quit()

# A timer set before the app exists would never fire: create it once the loop runs.
orig = QApplication.exec
def exec_with_probe(*args):
    QTimer.singleShot(1500, report)
    return orig()
QApplication.exec = exec_with_probe
sys.exit(main.main(["--workspace", sys.argv[2]]))
"""


def test_main_opens_a_real_x11_window_on_the_given_workspace(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.create_ca(common_name="Window CA", passphrase=CA_PASSPHRASE)
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    env["HOME"] = str(tmp_path / "home")  # fresh settings: the remembered workspace must not win
    out = subprocess.run(
        [need("xvfb-run"), "-a", sys.executable, "-c", PROBE, str(ROOT), str(ws.root)],
        capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL, check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "platform=xcb" in out.stdout, out.stdout + out.stderr
    assert f"mTLS Lab — {ws.root}" in out.stdout
