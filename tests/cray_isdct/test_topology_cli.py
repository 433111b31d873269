"""``cache_topology``: caches or the real sacct/xtdb2proc subprocesses (stand-ins), outputs, exit statuses."""

from __future__ import annotations

import json
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
    write_gzip,
    xtdb2proc_text,
)
from fixtures_common import path_with

from atokio.cli import cache_topology
from atokio.cli._common import as_program


@pytest.fixture
def caches(tmp_path: Path) -> tuple[str, str]:
    slurm = tmp_path / "job.slurm"
    slurm.write_text(json.dumps(SMALL_JOB))
    nodemap = write_gzip(tmp_path / "sdb.txt.gz", xtdb2proc_text(SMALL_TABLE))
    return str(slurm), str(nodemap)


def check_radii(data: dict[str, float]) -> None:
    assert sorted(data) == sorted(SMALL_RADII)
    for key, value in SMALL_RADII.items():
        assert data[key] == pytest.approx(value, rel=1e-12)


def test_caches_to_stdout(caches: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cache_topology.main(["--jobinfo-cache", caches[0], "--nodemap-cache", caches[1]]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    check_radii(data)
    assert out == json.dumps(data, indent=4, sort_keys=True) + "\n"
    assert out.splitlines()[1].startswith('    "job_avg_radius": ')


def test_output_file_is_compact(
    caches: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "topo.json"
    argv = ["--nodemap", caches[1], "-o", str(out), "--jobinfo", caches[0]]  # abbreviations
    assert cache_topology.main(argv) == 0
    assert capsys.readouterr().out == f"Caching to {out}\n"
    text = out.read_text()
    data = json.loads(text)
    check_radii(data)
    assert text == json.dumps(data)
    assert list(data) == ["job_min_radius", "job_max_radius", "job_avg_radius"]


def test_jobid_runs_sacct_and_xtdb2proc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    bin_dir = tmp_path / "bin"
    install_program(bin_dir, "xtdb2proc", xtdb2proc_text(SMALL_TABLE).encode(), ["-f", "-"])
    sacct_log = install_program(bin_dir, "sacct", SMALL_JOB_SACCT.encode())
    monkeypatch.setenv("PATH", path_with(bin_dir))
    assert cache_topology.main([SMALL_JOBID]) == 0
    check_radii(json.loads(capsys.readouterr().out))
    assert sacct_log.read_text().count("\n") == 1


def test_missing_xtdb2proc_fails(caches: tuple[str, str], empty_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    assert as_program(cache_topology.main, ["--jobinfo-cache", caches[0]]) == 1
    assert "xtdb2proc: command not found" in capsys.readouterr().err


def test_non_nid_nodes_give_empty_object(tmp_path: Path, caches: tuple[str, str],
                                         capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    slurm = tmp_path / "login.slurm"
    slurm.write_text(json.dumps({"8": {"jobidraw": "8", "start": "2017-03-20T01:00:00",
                                       "end": "2017-03-20T01:10:00", "nodelist": ["login3"]}}))  # fmt: skip
    assert cache_topology.main(["--jobinfo-cache", str(slurm), "--nodemap-cache", caches[1]]) == 0
    captured = capsys.readouterr()
    assert captured.out == "{}\n"
    assert "login3" in captured.err


@pytest.mark.parametrize(
    "argv", [[], ["123", "--jobinfo-cache", "x.slurm"], ["--bogus"], ["1", "2"]]
)
def test_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cache_topology.main(argv)
    assert caught.value.code == 2
    assert capsys.readouterr().err.startswith("usage: cache_topology")


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cache_topology.main(["-h"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert "--jobinfo-cache" in out and "--nodemap-cache" in out


def test_corpus_sample(capsys: pytest.CaptureFixture[str]) -> None:
    slurm = str(corpus_input("sample.slurm"))
    sdb = str(corpus_input("sample.xtdb2proc.gz"))
    assert cache_topology.main(["--jobinfo-cache", slurm, "--nodemap-cache", sdb]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == pytest.approx(
        {
            "job_min_radius": 2.2518574147592583,
            "job_max_radius": 8.042402428155796,
            "job_avg_radius": 4.913247095678397,
        },
        rel=1e-12,
    )
