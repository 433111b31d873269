"""The corpus collectd caches used by the Elasticsearch tests (shared by the test modules and conftest)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from corpus import INPUTS

FULL = INPUTS / "sample_collectdes-full.json.gz"
PART = INPUTS / "sample_collectdes-part.json.gz"
CPULOADS = INPUTS / "collectdes_cpuloads.json.gz"
TOKIOTS = INPUTS / "sample_tokiots.hdf5"


def need(path: Path) -> Path:
    """``path``, or skip the calling test when the corpus file is absent."""
    if not path.exists():
        pytest.skip(f"corpus file {path} not found (the corpus lives beside the repository)")
    return path


def load(path: Path) -> list[Any]:
    return json.loads(gzip.decompress(need(path).read_bytes()))
