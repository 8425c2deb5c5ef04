"""mTLS Lab: `python main.py` opens the GUI; `python main.py <command>` runs the same core headless."""

from __future__ import annotations

import sys


def _workspace_first(args: list[str]) -> list[str]:
    """``--workspace DIR COMMAND ...`` as ``COMMAND --workspace DIR ...`` (the option is every command's)."""
    if args and args[0] == "--workspace" and len(args) > 2:
        option, rest = args[:2], args[2:]
    elif args and args[0].startswith("--workspace=") and len(args) > 1:
        option, rest = args[:1], args[1:]
    else:
        return args
    from cli import COMMANDS

    return [rest[0], *option, *rest[1:]] if rest[0] in COMMANDS and rest[0] != "gui" else args


def main(argv: list[str] | None = None) -> int:
    args = _workspace_first(list(sys.argv[1:] if argv is None else argv))
    # `main.py`, `main.py gui ...` and `main.py --workspace DIR` open the window.
    if not args or args[0] == "gui" or args[0].startswith("--workspace"):
        from gui.app import run_gui

        return run_gui(args[1:] if args and args[0] == "gui" else args)
    from cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
