"""``import atokio`` is enough to reach any documented module, as with pytokio."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
import atokio
assert "atokio.connectors.darshan" not in sys.modules  # nothing heavy at import
print(atokio.tools.hdf5.get_dataframe_from_time_range.__name__)
print(atokio.connectors._hdf5.map_dataset.__name__)
print(atokio.connectors.darshan.Darshan.__name__, atokio.analysis.umami.Umami.__name__)
print(atokio.cli.cache_darshan.main.__module__)
try:
    atokio.connectors.no_such_connector
except AttributeError as error:
    print(error)
"""


def test_documented_modules_reachable_from_the_package() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.splitlines() == [
        "get_dataframe_from_time_range",
        "map_dataset",
        "Darshan Umami",
        "atokio.cli.cache_darshan",
        "module 'atokio.connectors' has no attribute 'no_such_connector'",
    ]
