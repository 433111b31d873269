"""Names of the TOKIO Time Series schema v1 (docs/formats.md#dataset-names), without I/O dependencies.

Kept apart from :mod:`atokio.archive.tts` so that tools needing only the
names (``summarize_job``'s dataset table) do not load h5py to get them.
"""

from __future__ import annotations

__all__ = ["MD_OPS", "SCHEMA_VERSION"]

#: The schema version written into new files and datasets.
SCHEMA_VERSION = "1"

#: The metadata operations of schema v1, in its dataset order (``mdtargets/<op>s``, ``<op>rates``).
MD_OPS = (
    "open", "close", "mknod", "link", "unlink", "mkdir", "rmdir", "rename",
    "getxattr", "statfs", "setattr", "getattr",
)  # fmt: skip
