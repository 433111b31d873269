"""Where the shared sample corpus lives, and how tests skip without it."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

#: ``shared/corpus`` beside the repository (the repository is ``<root>/main``).
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
DARSHAN = CORPUS / "darshan"
INPUTS = CORPUS / "inputs"

#: The six real logs of the corpus.
REAL_LOGS = ("sample", "sample-2", "sample-badost", "sample-goodost", "noposix", "noposixopens")
VERSIONS = {"3.5.0": "", "3.4.4": ".v3.4.4", "3.1.8": ".v3.1.8"}

#: The header of the ``sample`` log, as both the darshan-parser text and the direct reader give it.
SAMPLE_HEADER = {
    "version": "3.10",
    "compression": "ZLIB",
    "exe": [
        "/global/project/projectdirs/m888/glock/tokio-abc-results/bin.edison/vpicio_uni",
        "/scratch2/scratchdirs/glock/tokioabc-s.4478544/vpicio/vpicio.hdf5",
        "32",
    ],
    "uid": 69615,
    "jobid": "4478544",
    "start_time": 1490000867,
    "start_time_string": "Mon Mar 20 09:07:47 2017",
    "end_time": 1490000983,
    "end_time_string": "Mon Mar 20 09:09:43 2017",
    "nprocs": 2048,
    "walltime": 117,
    "metadata": ["lib_ver = 3.1.3", "h = romio_no_indep_rw=true;cb_nodes=4"],
}


def need_corpus() -> Path:
    """The corpus folder, or skip the calling test with the reason."""
    if not DARSHAN.is_dir():
        pytest.skip(f"sample corpus not found at {CORPUS} (it lives beside the repository)")
    return CORPUS


def darshan_text(log: str, mode: str, version: str = "3.5.0") -> bytes:
    """The recorded darshan-parser output of ``log`` (gunzipped if stored compressed)."""
    need_corpus()
    stem = DARSHAN / f"{log}{VERSIONS[version]}.{mode}.txt"
    if stem.exists():
        return stem.read_bytes()
    return gzip.decompress(stem.with_name(stem.name + ".gz").read_bytes())
