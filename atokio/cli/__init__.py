"""Command-line tools (``tokio.cli``): one module per tool, each with ``main(argv=None)``.

Every tool runs as ``atokio <tool> ...`` (dashes or underscores), as
``python -m atokio.cli.<tool> ...``, or from Python as
``atokio.cli.<tool>.main([...])``.
"""

from __future__ import annotations

from types import ModuleType

from atokio._lazy import submodule

#: The documented tools, then the two names the published Quick Start uses.
TOOLS = (
    "archive_collectdes",
    "archive_esnet_snmp",
    "archive_lmtdb",
    "archive_mmperfmon",
    "cache_collectdes",
    "cache_darshan",
    "cache_esnet_snmp",
    "cache_isdct",
    "cache_lfsstatus",
    "cache_lmtdb",
    "cache_mmperfmon",
    "cache_nersc_globuslogs",
    "cache_nersc_jobsdb",
    "cache_slurm",
    "cache_topology",
    "compare_isdct",
    "darshan_bad_ost",
    "darshan_scoreboard",
    "find_darshanlogs",
    "index_darshanlogs",
    "summarize_h5lmt",
    "summarize_job",
    "summarize_tts",
    "cache_darshanlogs",
    "summarize_darshanlogs",
)


def __getattr__(name: str) -> ModuleType:
    """Submodules load on first use (``atokio.cli.<module>`` after ``import atokio``)."""
    return submodule(__name__, name)
