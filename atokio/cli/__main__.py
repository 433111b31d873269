"""The ``atokio`` command: ``atokio <tool> [arguments]`` runs one command-line tool.

``atokio --help`` lists the tools; ``atokio <tool> --help`` explains one.
Tool names may be written with dashes or underscores
(``atokio index-darshanlogs`` = ``atokio index_darshanlogs``).

Each tool is also installed under its plain pytokio name (``cache_darshan``,
``archive_lmtdb``, ...), so existing cron jobs and scripts keep working: those
commands all enter :func:`run_named_tool`, which runs the tool its own name
says.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Sequence

from atokio.cli import TOOLS

__all__ = ["main", "run_named_tool"]

#: The tools, then the commands only ``atokio`` has (no pytokio name): the report service.
COMMANDS = (*TOOLS, "serve")


def _available(tool: str) -> bool:
    return importlib.util.find_spec(f"atokio.cli.{tool}") is not None


def _summary(tool: str) -> str:
    spec = importlib.util.find_spec(f"atokio.cli.{tool}")
    if spec is None or spec.origin is None:
        return "(not available in this version)"
    import ast

    with open(spec.origin) as handle:
        doc = ast.get_docstring(ast.parse(handle.read())) or ""
    first = doc.strip().splitlines()[0] if doc.strip() else ""
    # plain text for a terminal: no reST markup, no pointers into the developers' docs
    first = re.sub(r"\s*\((?:[^()]*,\s*)?CLI\.md[^()]*\)", "", first)
    first = re.sub(r"\s*\(``\w+``\)", "", first)
    first = re.sub(r":\w+:`~?([^`]+)`", r"\1", first).replace("``", "")
    return first


def usage() -> str:
    lines = [
        "usage: atokio <tool> [arguments]   (atokio <tool> --help for a tool's options)",
        "",
        "atokio: Total Knowledge of I/O. Tools:",
    ]
    for tool in COMMANDS:
        lines.append(f"  {tool.replace('_', '-'):<24} {_summary(tool)}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch ``atokio <tool> ...`` to ``atokio.cli.<tool>.main``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if args else 2
    if args[0] == "--version":
        from atokio import __version__

        print(f"atokio {__version__}")
        return 0
    tool = args[0].replace("-", "_")
    if tool not in COMMANDS or not _available(tool):
        print(usage(), file=sys.stderr)
        known = tool in COMMANDS
        reason = "is not available in this version" if known else "is not an atokio tool"
        print(f"\natokio: error: {args[0]!r} {reason}", file=sys.stderr)
        return 2
    from atokio.cli._common import as_program

    module = importlib.import_module(f"atokio.cli.{tool}")
    sys.argv[0] = tool
    return as_program(module.main, args[1:])


def run_named_tool() -> int:
    """Entry point of the plain tool commands: ``cache_darshan ...`` = ``atokio cache_darshan ...``."""
    name = os.path.basename(sys.argv[0])
    name = name.removesuffix(".py")
    return main([name, *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
