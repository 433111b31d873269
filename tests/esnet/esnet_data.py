"""Data of the ESnet SNMP tests: the corpus caches, the corpus site, generated rates."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus import INPUTS
from esnet_server import Data, make_data

#: The corpus caches: 2019-02-11 01:00-01:05 and 01:01-01:04 PST.
CACHE = INPUTS / "esnet_snmp.json.gz"
CACHE_2 = INPUTS / "esnet_snmp-2.json.gz"

#: The `nersc` site of the corpus configuration.
NERSC = {
    "sunn-cr5": ["to_nersc_ip-d_v4", "to_nersc_ip-d_v6", "to_nersc_ip-b", "to_nersc_ip-b_v6"],
    "sacr-cr5": ["to_nersc_ip-e"],
}
SITES = {"nersc": NERSC, "alcf": {"star-cr5": ["to_anl_ip-a"]}}
#: 2019-02-11 01:00:00 PST
T0 = 1549875600


def need_cache(path: Path = CACHE) -> Path:
    """A corpus ESnet cache, or skip the calling test with the reason."""
    if not path.exists():
        pytest.skip(f"ESnet corpus cache {path} not found (the corpus lives beside the repository)")
    return path


def generated() -> Data:
    """Eleven 30-s points per interface and direction, 01:00-01:05 PST, like the corpus."""
    return make_data(T0, 11, NERSC)
