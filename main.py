"""mTLS Lab: `python main.py` opens the GUI; `python main.py <command>` runs the same core headless."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] == "gui":
        from gui.app import run_gui

        return run_gui(args[1:])
    from cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
