"""Start the GUI: ``python main.py [gui] [--workspace DIR]``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from gui.settings import LAST_KEY, app_settings

DEFAULT_WORKSPACE = Path("~/mTLS-Lab")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python main.py gui", description="Open the mTLS Lab window.")
    parser.add_argument("--workspace", type=Path,
                        help="workspace folder (default: $MTLSLAB_WORKSPACE, else the last one, else ~/mTLS-Lab)")
    return parser.parse_args(list(argv))


def choose_workspace(explicit: Path | None, settings: QSettings) -> Path:
    """The workspace to open: the one asked for, else the one used last, else ``~/mTLS-Lab``."""
    if explicit is not None:
        return explicit.expanduser().resolve()
    if os.environ.get("MTLSLAB_WORKSPACE"):  # the same default as the command line
        return Path(os.environ["MTLSLAB_WORKSPACE"]).expanduser().resolve()
    remembered = settings.value(LAST_KEY)
    if isinstance(remembered, str) and remembered:
        return Path(remembered)
    return DEFAULT_WORKSPACE.expanduser().resolve()


def no_display_message() -> str | None:
    """On Linux without X11 or Wayland, Qt would abort with a cryptic plugin error: say it plainly."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return ("mTLS Lab needs a display for its window, and none was found (DISPLAY and WAYLAND_DISPLAY are unset).\n"
            "On a machine without a screen, run the walkthrough headless:  ./run.sh demo   (or: python main.py demo)\n"
            "See all commands with:  python main.py --help")


def run_gui(argv: list[str]) -> int:
    """Create the application and the main window, and run until it is closed."""
    if "-h" in argv or "--help" in argv:
        parse_args(argv)  # prints the help and exits, display or not
    message = no_display_message()
    if message is not None and QApplication.instance() is None:
        print(message, file=sys.stderr)
        return 2
    app = QApplication.instance()
    ours = list(argv)
    if not isinstance(app, QApplication):
        # Qt takes its own options (-platform, -style ...) out of the list first.
        app = QApplication([sys.argv[0] if sys.argv else "mtls-lab", *argv])
        ours = app.arguments()[1:]
    app.setApplicationName("mTLS Lab")
    app.setWindowIcon(QIcon(str(Path(__file__).resolve().parent.parent / "resources" / "icons" / "app.svg")))
    app.setOrganizationName("mTLS Lab")
    args = parse_args(ours)
    workspace = choose_workspace(args.workspace, app_settings())

    from gui.main_window import MainWindow

    window = MainWindow(workspace)
    window.show()
    return int(app.exec())
