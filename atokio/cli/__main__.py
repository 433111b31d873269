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

__all__ = ["SUMMARIES", "main", "run_named_tool", "usage"]

#: The tools, then the commands only ``atokio`` has (no pytokio name): the report service.
COMMANDS = (*TOOLS, "serve")


def _available(tool: str) -> bool:
    return importlib.util.find_spec(f"atokio.cli.{tool}") is not None


#: What each tool does, in one line for ``atokio --help`` (and the generated docs/cli.md).
SUMMARIES: dict[str, str] = {
    "archive_collectdes": "Archive collectd data from Elasticsearch as TOKIO Time Series (HDF5).",
    "archive_esnet_snmp": "Archive ESnet SNMP interface counters as TOKIO Time Series (HDF5).",
    "archive_lmtdb": "Archive an LMT database's Lustre counters as TOKIO Time Series (HDF5).",
    "archive_mmperfmon": "Archive GPFS mmperfmon counters as TOKIO Time Series (HDF5).",
    "cache_collectdes": "Save collectd documents from Elasticsearch to a JSON file.",
    "cache_darshan": "Print one Darshan log as JSON (counters, totals, performance).",
    "cache_esnet_snmp": "Print ESnet SNMP interface rates as JSON or CSV.",
    "cache_isdct": "Print Intel SSD (ISDCT) health data of a NERSC dump as a table or JSON.",
    "cache_lfsstatus": "Show how full Lustre OSTs were, or which had failed over, at a moment.",
    "cache_lmtdb": "Copy a time window of an LMT database into a local SQLite file.",
    "cache_mmperfmon": "Print GPFS mmperfmon outputs as JSON or CSV.",
    "cache_nersc_globuslogs": "Save Globus transfer records from Elasticsearch as JSON or CSV.",
    "cache_nersc_jobsdb": "Copy the NERSC jobs database rows of a time window into SQLite.",
    "cache_slurm": "Print a Slurm job's accounting records as sacct text, JSON or CSV.",
    "cache_topology": "Show how spread out a Cray XC job's nodes are on the network, as JSON.",
    "compare_isdct": "Compare two Intel SSD (ISDCT) dumps: what failed, wore or changed.",
    "darshan_bad_ost": "Find Lustre OSTs whose use goes with slow (or fast) file I/O.",
    "darshan_scoreboard": "Rank the heaviest users, file systems and applications of a Darshan index.",
    "find_darshanlogs": "List (or parse) the Darshan logs of a date range, user or job.",
    "index_darshanlogs": "Index Darshan logs into an SQLite database of per-file-system summaries.",
    "summarize_h5lmt": "Show read/write volumes, CPU load and missing data of file-system telemetry.",
    "summarize_job": "Summarize a job's I/O and what its file system was doing meanwhile.",
    "summarize_tts": "Show the volumes and completeness of a TTS file; --plot draws its rates.",
    "cache_darshanlogs": "Another name of cache_darshan: one Darshan log as JSON.",
    "summarize_darshanlogs": "Print the bytes read and written per Darshan log and file system.",
    "serve": "Serve job I/O reports over HTTP: a JSON API and web pages.",
}


def _summary(tool: str) -> str:
    """The line ``atokio --help`` shows for ``tool``.

    A command without an entry in :data:`SUMMARIES` shows the first line of
    its module's docstring (read without importing the module).
    """
    if not _available(tool):
        return "(not available in this version)"
    if tool in SUMMARIES:
        return SUMMARIES[tool]
    spec = importlib.util.find_spec(f"atokio.cli.{tool}")
    if spec is None or spec.origin is None:
        return ""
    import ast

    with open(spec.origin) as handle:
        doc = ast.get_docstring(ast.parse(handle.read())) or ""
    first = doc.strip().split("\n")[0] if doc.strip() else ""
    # plain text for a terminal: no reST markup, no pointers into the documentation
    first = re.sub(r"\s*\((?:[^()]*,\s*)?(?:docs/|CLI\.md)[^()]*\)", "", first)
    first = re.sub(r"\s*\(``\w+``\)", "", first)
    return re.sub(r":\w+:`~?([^`]+)`", r"\1", first).replace("``", "")


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
        try:
            print(usage())
            sys.stdout.flush()
        except BrokenPipeError:  # `atokio --help | head`
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
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
