"""``tools.topology.get_job_diameter``: node lists from Slurm, positions from the Cray SDB."""

from __future__ import annotations

import gzip
import json
import logging
import math
from pathlib import Path

import pytest
from cray_isdct_data import (
    SMALL_JOB,
    SMALL_JOB_SACCT,
    SMALL_JOBID,
    SMALL_RADII,
    SMALL_TABLE,
    corpus_input,
    install_program,
    xtdb2proc_text,
)
from fixtures_common import path_with

from atokio.common import ConfigError
from atokio.tools.topology import get_job_diameter


@pytest.fixture
def caches(tmp_path: Path) -> tuple[str, str]:
    """(Slurm JSON cache of the small job, saved xtdb2proc output)."""
    slurm = tmp_path / "job.slurm"
    slurm.write_text(json.dumps(SMALL_JOB))
    nodemap = tmp_path / "sdb.txt"
    nodemap.write_text(xtdb2proc_text(SMALL_TABLE))
    return str(slurm), str(nodemap)


def assert_radii(result: dict[str, float], expected: dict[str, float]) -> None:
    assert sorted(result) == ["job_avg_radius", "job_max_radius", "job_min_radius"]
    for key, value in expected.items():
        assert isinstance(result[key], float)
        assert result[key] == pytest.approx(value, rel=1e-12)


def test_from_caches(caches: tuple[str, str]) -> None:
    slurm, nodemap = caches
    result = get_job_diameter(SMALL_JOBID, nodemap_cache_file=nodemap, jobinfo_cache_file=slurm)
    assert_radii(result, SMALL_RADII)


def test_runs_sacct_and_xtdb2proc_without_caches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    sdb_log = install_program(
        bin_dir, "xtdb2proc", xtdb2proc_text(SMALL_TABLE).encode(), ["-f", "-"]
    )
    sacct_log = install_program(bin_dir, "sacct", SMALL_JOB_SACCT.encode())
    monkeypatch.setenv("PATH", path_with(bin_dir))
    assert_radii(get_job_diameter(SMALL_JOBID), SMALL_RADII)
    assert sdb_log.read_text().count("\n") == 1
    [sacct_args] = [json.loads(line) for line in sacct_log.read_text().splitlines()]
    assert "777" in sacct_args


def test_single_node_has_zero_radii(tmp_path: Path, caches: tuple[str, str]) -> None:
    slurm = tmp_path / "one.slurm"
    slurm.write_text(json.dumps({"9": {"jobidraw": "9", "start": "2017-03-20T01:00:00",
                                       "end": "2017-03-20T02:00:00", "nodelist": ["nid00020"]}}))  # fmt: skip
    result = get_job_diameter("9", nodemap_cache_file=caches[1], jobinfo_cache_file=str(slurm))
    assert result == {"job_min_radius": 0.0, "job_max_radius": 0.0, "job_avg_radius": 0.0}


def test_non_nid_node_gives_empty_dict_and_warning(
    tmp_path: Path, caches: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    job = {"5": {"jobidraw": "5", "start": "2017-03-20T01:00:00", "end": "2017-03-20T02:00:00",
                 "nodelist": ["nid00010", "login01"]}}  # fmt: skip
    slurm = tmp_path / "mixed.slurm"
    slurm.write_text(json.dumps(job))
    with caplog.at_level(logging.WARNING, logger="atokio"):
        result = get_job_diameter("5", nodemap_cache_file=caches[1], jobinfo_cache_file=str(slurm))
    assert result == {}
    assert "login01" in caplog.text


def test_node_missing_from_the_table_is_a_key_error(
    tmp_path: Path, caches: tuple[str, str]
) -> None:
    job = {"6": {"jobidraw": "6", "start": "2017-03-20T01:00:00", "end": "2017-03-20T02:00:00",
                 "nodelist": ["nid00010", "nid04242"]}}  # fmt: skip
    slurm = tmp_path / "far.slurm"
    slurm.write_text(json.dumps(job))
    with pytest.raises(KeyError, match="nid04242"):
        get_job_diameter("6", nodemap_cache_file=caches[1], jobinfo_cache_file=str(slurm))


@pytest.mark.usefixtures("empty_path")
def test_unknown_job_is_a_config_error(caches: tuple[str, str]) -> None:
    with pytest.raises(ConfigError):
        get_job_diameter("123", nodemap_cache_file=caches[1])


def _independent_radii(slurm_path: Path, sdb_path: Path) -> dict[str, float]:
    """The radii worked out with plain Python from the raw files."""
    nodes: set[str] = set()
    for record in json.loads(slurm_path.read_text()).values():
        nodes.update(record["nodelist"])
    coords = {}
    for line in gzip.decompress(sdb_path.read_bytes()).decode().splitlines():
        if line.startswith("#") or not line:
            continue
        fields = dict(pair.split("=", 1) for pair in line.split(","))
        coords[int(fields["processor_id"])] = tuple(
            int(fields[k]) for k in ("x_coord", "y_coord", "z_coord")
        )
    points = [coords[int(node[3:])] for node in nodes]
    center = [sum(p[i] for p in points) / len(points) for i in range(3)]
    dists = [math.dist(p, center) for p in points]
    return {
        "job_min_radius": min(dists),
        "job_max_radius": max(dists),
        "job_avg_radius": sum(dists) / len(dists),
    }


def test_corpus_sample_job() -> None:
    slurm = corpus_input("sample.slurm")
    sdb = corpus_input("sample.xtdb2proc.gz")
    result = get_job_diameter("4478544", nodemap_cache_file=str(sdb), jobinfo_cache_file=str(slurm))
    assert_radii(result, _independent_radii(slurm, sdb))
    assert_radii(
        result,
        {
            "job_min_radius": 2.2518574147592583,
            "job_max_radius": 8.042402428155796,
            "job_avg_radius": 4.913247095678397,
        },
    )
