"""Where the LMT tests find the corpus samples (shared by the test modules and conftest)."""

from __future__ import annotations

from corpus import INPUTS

SNX_SQLITE = INPUTS / "snx11025_2018-01-28.sqlite3"
RESET_SQLITE = INPUTS / "lmtdb-reset.sqlite3"
SNX_HDF5 = INPUTS / "snx11025_2018-01-28.hdf5"

DATABASES = {"snx11025": SNX_SQLITE, "lmtdb_reset": RESET_SQLITE}
