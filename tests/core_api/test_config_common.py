"""atokio.config, atokio.common, atokio.debug, atokio.tools.common, atokio.connectors.common."""

from __future__ import annotations

import datetime
import io
import json
import logging
import sys
import tarfile
import time
from pathlib import Path

import pytest
from corpus import INPUTS, need_corpus

from atokio import common, config
from atokio.connectors.common import CacheableDict, SubprocessOutputDict, walk_file_collection
from atokio.parsers.base import LineParser
from atokio.tools.common import enumerate_dated_files

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_config(monkeypatch: pytest.MonkeyPatch):
    """Reload the configuration after the test changes the environment; restore it after."""
    for name in ("ATOKIO_CONFIG", "PYTOKIO_CONFIG", "PYTOKIO_SKIP_CONFIG", "ATOKIO_SKIP_CONFIG",
                 "PYTOKIO_HDF5_FILES", "PYTOKIO_DARSHAN_LOG_DIRS", "PYTOKIO_ESNET_SNMP_URI",
                 "ATOKIO_HDF5_FILES"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    yield monkeypatch
    monkeypatch.undo()
    config.init_config()


def test_packaged_default_is_the_repository_site_json(fresh_config: pytest.MonkeyPatch) -> None:
    config.init_config()
    assert config.PYTOKIO_CONFIG_FILE == config.DEFAULT_CONFIG_FILE
    assert Path(config.DEFAULT_CONFIG_FILE).read_text() == (ROOT / "site.json").read_text()
    assert config.CONFIG["lmt_timestep"] == 5
    assert config.CONFIG["jobinfo_jobid_providers"] == ["slurm", "nersc_jobsdb"]


def test_pytokio_config_and_atokio_config(fresh_config: pytest.MonkeyPatch, tmp_path: Path) -> None:
    need_corpus()
    fresh_config.setenv("PYTOKIO_CONFIG", str(INPUTS / "sample_config.json"))
    config.init_config()
    assert config.CONFIG["debug_dummy"] == 3735928559
    assert config.PYTOKIO_CONFIG_FILE == str(INPUTS / "sample_config.json")
    mine = tmp_path / "mine.json"
    mine.write_text('{"Lmt_Timestep": 10, "hdf5_files": "x/%Y.h5"}')
    fresh_config.setenv("ATOKIO_CONFIG", str(mine))
    config.init_config()
    assert config.CONFIG == {"lmt_timestep": 10, "hdf5_files": "x/%Y.h5"}  # keys lower-cased


def test_missing_file_and_skip(fresh_config: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fresh_config.setenv("PYTOKIO_CONFIG", str(tmp_path / "absent.json"))
    config.init_config()
    assert config.CONFIG == {}
    fresh_config.setenv("PYTOKIO_CONFIG", str(ROOT / "site.json"))
    fresh_config.setenv("PYTOKIO_HDF5_FILES", "ignored")
    fresh_config.setenv("PYTOKIO_SKIP_CONFIG", "1")
    config.init_config()
    assert config.CONFIG == {}
    assert config.PYTOKIO_CONFIG_FILE == ""


def test_environment_overrides(fresh_config: pytest.MonkeyPatch) -> None:
    fresh_config.setenv("PYTOKIO_HDF5_FILES", '{"scratch": ["a/%Y.hdf5"]}')
    fresh_config.setenv("PYTOKIO_DARSHAN_LOG_DIRS", "/global/darshanlogs")
    fresh_config.setenv("PYTOKIO_ESNET_SNMP_URI", "https://snmp.example/api")
    config.init_config()
    assert config.CONFIG["hdf5_files"] == {"scratch": ["a/%Y.hdf5"]}
    assert config.CONFIG["darshan_log_dirs"] == "/global/darshanlogs"
    assert (
        config.CONFIG["esnet_snmp_uri"]
        == config.CONFIG["esnet_snmp_url"]
        == "https://snmp.example/api"
    )
    fresh_config.setenv("ATOKIO_HDF5_FILES", '"b/%Y.hdf5"')
    config.init_config()
    assert config.CONFIG["hdf5_files"] == "b/%Y.hdf5"


def test_config_error_is_exported() -> None:
    import atokio

    assert atokio.ConfigError is common.ConfigError
    assert issubclass(atokio.ConfigError, RuntimeError)


@pytest.fixture
def timezone(monkeypatch: pytest.MonkeyPatch):
    def set_zone(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield set_zone
    monkeypatch.undo()
    time.tzset()


def test_to_epoch_treats_naive_datetimes_as_local_time(timezone) -> None:
    when = datetime.datetime(2017, 12, 13, 0, 0, 0)
    timezone("America/Los_Angeles")
    assert common.to_epoch(when) == 1513152000  # 08:00 UTC
    assert common.to_epoch(datetime.datetime(2017, 12, 13, 0, 0, 0, 500000), float) == 1513152000.5
    timezone("UTC")
    assert common.to_epoch(when) == 1513123200
    aware = datetime.datetime(2017, 12, 13, tzinfo=datetime.UTC)
    assert common.to_epoch(aware) == 1513123200
    timezone("America/Los_Angeles")
    assert common.to_epoch(aware) == 1513123200  # an aware datetime keeps its zone


def test_humanize_bytes() -> None:
    assert common.humanize_bytes(1536) == "1.5 KiB"
    assert common.humanize_bytes(0) == "0.0 bytes"
    assert common.humanize_bytes(3 * 2**40) == "3.0 TiB"
    assert common.humanize_bytes(1500, base10=True) == "1.5 KB"
    assert common.humanize_bytes(2**20, fmt="%d %s") == "1 MiB"
    assert common.humanize_bytes(2**20, fmt=None) == "1.0 MiB"


def test_recast_string_and_isstr() -> None:
    assert common.recast_string("12") == 12
    assert common.recast_string("1.5") == 1.5
    assert common.recast_string("True") is True
    assert common.recast_string("false") is False
    assert common.recast_string("nid00012") == "nid00012"
    assert common.recast_string(None) is None
    assert common.isstr("x") and not common.isstr(b"x")


def test_json_encoder() -> None:
    import numpy

    data = {
        "when": datetime.datetime(2019, 1, 2, 3, 4, 5),
        "nodes": {"nid3", "nid1"},
        "count": numpy.int64(7),
        "array": numpy.array([1.5, 2.0]),
    }
    assert json.loads(json.dumps(data, cls=common.JSONEncoder)) == {
        "when": "2019-01-02T03:04:05",
        "nodes": ["nid1", "nid3"],
        "count": 7,
        "array": [1.5, 2.0],
    }
    with pytest.raises(TypeError):
        json.dumps({"x": object()}, cls=common.JSONEncoder)


def test_debug_messages_go_to_stderr(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from atokio import debug

    monkeypatch.setattr(logging.getLogger("atokio"), "handlers", [])
    monkeypatch.setattr(logging.getLogger("atokio"), "propagate", False)
    debug.warning("disk almost full")
    debug.error("disk full")
    debug.debug_print("hidden")
    monkeypatch.setattr(debug, "DEBUG", True)
    debug.debug_print("shown")
    assert capsys.readouterr().err == "disk almost full\ndisk full\nshown\n"


# -- time-indexed templates ------------------------------------------------------


@pytest.fixture
def corpus_cwd(monkeypatch: pytest.MonkeyPatch) -> dict:
    corpus = need_corpus()
    monkeypatch.chdir(corpus)
    return json.loads((INPUTS / "site.json").read_text())


def test_enumerate_dated_files_list_template(corpus_cwd: dict) -> None:
    start, end = datetime.datetime(2017, 3, 20), datetime.datetime(2017, 3, 21)
    template = corpus_cwd["test_list"]
    assert enumerate_dated_files(start, end, template) == [
        "inputs/2017-03-20/file1",
        "inputs/2017-03-21/file2",
    ]
    assert enumerate_dated_files(start, end, template, match_first=False) == [
        "inputs/2017-03-20/file1",
        "inputs/2017-03-20/file2",
        "inputs/2017-03-21/file2",
    ]
    assert enumerate_dated_files(start, start, template) == ["inputs/2017-03-20/file1"]


def test_enumerate_dated_files_dict_glob_and_no_padding(corpus_cwd: dict) -> None:
    start = datetime.datetime(2017, 3, 19, 12, 30)
    end = datetime.datetime(2017, 3, 21, 1, 0)
    dirs = {"testsystem": "inputs/darshanlogs/%-Y/%-m/%-d/*.darshan", "other": "nowhere/%Y"}
    found = enumerate_dated_files(
        start, end, dirs, lookup_key="testsystem", match_first=False, use_glob=True
    )
    assert [Path(p).name[:20] for p in found] == [
        "glock_dbscan_read_id",
        "glock_vpicio_uni_id4",
        "glock_dbscan_read_id",
        "glock_vpicio_uni_id4",
    ]
    assert enumerate_dated_files(start, end, dirs, match_first=False, use_glob=True) == found
    with pytest.raises(KeyError, match="'missing' is not among the template keys"):
        enumerate_dated_files(start, end, dirs, lookup_key="missing")
    hourly = enumerate_dated_files(
        datetime.datetime(2017, 3, 20, 22),
        end,
        "inputs/%Y-%m-%d/file2",
        timedelta=datetime.timedelta(hours=1),
    )
    assert hourly == ["inputs/2017-03-20/file2", "inputs/2017-03-21/file2"]


def test_enumerate_dated_files_without_the_corpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for day in ("2020-1-1", "2020-1-3"):
        Path(day).mkdir()
        (Path(day) / "data.h5").write_text("")
    found = enumerate_dated_files(
        datetime.datetime(2020, 1, 1), datetime.datetime(2020, 1, 3), "%-Y-%-m-%-d/data.h5"
    )
    assert found == ["2020-1-1/data.h5", "2020-1-3/data.h5"]


# -- connectors.common ------------------------------------------------------------


class Hosts(CacheableDict):
    def load_native(self, input_file: str | None = None) -> None:
        with open(input_file or self.input_file or "") as handle:
            for line in handle:
                host, state = line.split()
                self[host] = state


def test_cacheable_dict_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    native = tmp_path / "hosts.txt"
    native.write_text("nid1 up\nnid2 down\n")
    hosts = Hosts(str(native))
    assert hosts == {"nid1": "up", "nid2": "down"}
    cache = tmp_path / "hosts.json"
    hosts.save_cache(str(cache))
    assert Hosts(str(cache)) == hosts
    hosts.save_cache(None, sort_keys=True)
    assert capsys.readouterr().out == '{"nid1": "up", "nid2": "down"}'


class Words(LineParser[str]):
    def parse_line(self, line: str) -> list[str]:
        return line.split()


class WordCount(SubprocessOutputDict):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.subprocess_cmd = [sys.executable, "-c"]

    def _make_parser(self) -> Words:
        return Words("words")

    def _apply_records(self, records: list[str]) -> None:
        for word in records:
            self[word] = self.get(word, 0) + 1


def test_subprocess_output_dict(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    counts = WordCount()
    counts._load_subprocess("print('a b a'); print('c')")
    assert counts == {"a": 2, "b": 1, "c": 1}
    partial = WordCount()
    with caplog.at_level(logging.WARNING, logger="atokio"):
        partial._load_subprocess(
            "import sys; print('x y'); sys.stderr.write('boom\\n'); sys.exit(4)"
        )
    assert partial == {"x": 1, "y": 1}  # what was printed is kept
    assert any("exited with status 4: boom" in r.getMessage() for r in caplog.records)
    saved = tmp_path / "out.txt"
    saved.write_text("p q\nq\n")
    loaded = WordCount(cache_file=str(saved))
    loaded.load()
    assert loaded == {"p": 1, "q": 2}
    from_string = WordCount(from_string="r r r\n")
    from_string.load()
    assert from_string == {"r": 3}


def test_walk_file_collection_directory_and_tarball(tmp_path: Path) -> None:
    tree = tmp_path / "bundle"
    (tree / "servers").mkdir(parents=True)
    (tree / "servers" / "a.out").write_bytes(b"alpha")
    (tree / "b.out").write_bytes(b"beta")
    walked = [
        (Path(p).relative_to(tree).as_posix(), handle.read())
        for p, _m, handle in walk_file_collection(str(tree))
    ]
    assert walked == [("b.out", b"beta"), ("servers/a.out", b"alpha")]
    mtimes = [m for _p, m, _h in walk_file_collection(str(tree))]
    assert mtimes == [
        (tree / "b.out").stat().st_mtime,
        (tree / "servers" / "a.out").stat().st_mtime,
    ]
    tgz = tmp_path / "bundle.tgz"
    with tarfile.open(tgz, "w:gz") as bundle:
        for name, data, mtime in (
            ("servers/a.out", b"alpha", 1557900000),
            ("b.out", b"beta", 1557903600),
        ):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), mtime
            bundle.addfile(info, io.BytesIO(data))
    assert [(p, m, h.read()) for p, m, h in walk_file_collection(str(tgz))] == [
        ("servers/a.out", 1557900000.0, b"alpha"),
        ("b.out", 1557903600.0, b"beta"),
    ]
