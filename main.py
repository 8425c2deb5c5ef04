"""mTLS Lab: `python main.py` opens the GUI; `python main.py <command>` runs the same core headless."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    # `main.py`, `main.py gui ...` and `main.py --workspace DIR` open the window.
    if not args or args[0] == "gui" or args[0].startswith("--workspace"):
        from gui.app import run_gui

        return run_gui(args[1:] if args and args[0] == "gui" else args)
    from cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
