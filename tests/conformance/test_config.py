"""The packaged site.json and the configuration module as pytokio scripts use them."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from atokio import config

#: The keys of pytokio's packaged site.json.
PYTOKIO_KEYS = {
    "darshan_log_dirs", "esnet_snmp_interfaces", "esnet_snmp_url", "fsname_to_backend_name",
    "hdf5_files", "hpss_report_files", "isdct_files", "jobinfo_jobid_providers",
    "lfsstatus_fullness_files", "lfsstatus_fullness_providers", "lfsstatus_map_files",
    "lmt_timestep", "mmperfmon_lun_map", "mmperfmon_server_map", "mmperfmon_output_files",
    "mount_to_fsname",
}  # fmt: skip


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch):
    """No configuration variable set; the configuration is reloaded after the test."""
    for name in ("ATOKIO_CONFIG", "PYTOKIO_CONFIG", "PYTOKIO_SKIP_CONFIG", "ATOKIO_SKIP_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    for name in config.MAGIC_VARIABLES:
        monkeypatch.delenv("PYTOKIO_" + name, raising=False)
        monkeypatch.delenv("ATOKIO_" + name, raising=False)
    yield monkeypatch
    monkeypatch.undo()
    config.init_config()


def test_packaged_site_json_has_every_pytokio_key(fresh: pytest.MonkeyPatch) -> None:
    config.init_config()
    with open(config.DEFAULT_CONFIG_FILE) as handle:
        loaded = json.load(handle)
    assert PYTOKIO_KEYS <= set(loaded)
    for key, value in loaded.items():
        assert config.CONFIG[key.lower()] == value
    assert config.CONFIG["esnet_snmp_url"] == "https://graphite.es.net/snmp/west"
    nersc = config.CONFIG["esnet_snmp_interfaces"]["nersc"]
    assert {"sunn-cr5", "sacr-cr5"} <= set(nersc)
    assert all(isinstance(names, list) and names for names in nersc.values())
    assert config.CONFIG["lfsstatus_fullness_providers"] == ["hdf5", "nersc_lfsstate"]


def test_packaged_values_work_with_the_tools(fresh: pytest.MonkeyPatch) -> None:
    from atokio.cli.index_darshanlogs import get_file_mount
    from atokio.connectors.esnet_snmp import EsnetSnmp

    config.init_config()
    mounts = ["/", "/global/cscratch1", "/global/project"]
    assert get_file_mount("/global/cscratch1/sd/u/f", mounts) == ("/global/cscratch1", "cscratch")
    assert get_file_mount("/global/project/pr/f", mounts) == ("/global/project", "project2")
    day = datetime.datetime(2019, 2, 11)
    request = EsnetSnmp(day, day + datetime.timedelta(hours=1)).gen_url(
        "sunn-cr5", "to_nersc_ip-b", "in"
    )
    assert request["url"] == "https://graphite.es.net/snmp/west/sunn-cr5/interface/to_nersc_ip-b/in"


def test_module_constants(fresh: pytest.MonkeyPatch) -> None:
    assert config.DEFAULT_CONFIG_FILE.endswith("site.json")
    assert Path(config.DEFAULT_CONFIG_FILE).is_file()
    config.init_config()
    assert config.PYTOKIO_CONFIG_FILE == config.DEFAULT_CONFIG_FILE
    assert config.MAGIC_VARIABLES == [
        "HDF5_FILES", "ISDCT_FILES", "LFSSTATUS_FULLNESS_FILES", "LFSSTATUS_MAP_FILES",
        "DARSHAN_LOG_DIRS", "ESNET_SNMP_URI",
    ]  # fmt: skip
    assert config.LMT_TIMESTEP == config.CONFIG["lmt_timestep"]  # older scripts' spelling
    with pytest.raises(AttributeError):
        config.NOT_A_KEY  # noqa: B018


def test_overrides_apply_at_init_only(fresh: pytest.MonkeyPatch, tmp_path: Path) -> None:
    site = tmp_path / "site.json"
    site.write_text('{"HDF5_Files": "a/%Y.h5", "isdct_files": "b"}')
    fresh.setenv("PYTOKIO_CONFIG", str(site))
    config.init_config()
    assert config.PYTOKIO_CONFIG_FILE == str(site)
    assert config.CONFIG == {"hdf5_files": "a/%Y.h5", "isdct_files": "b"}
    values = {
        "HDF5_FILES": ('{"fs": ["x/%Y.h5"]}', {"fs": ["x/%Y.h5"]}),
        "ISDCT_FILES": ("isdct/%Y.tgz", "isdct/%Y.tgz"),
        "LFSSTATUS_FULLNESS_FILES": ('["f1", "f2"]', ["f1", "f2"]),
        "LFSSTATUS_MAP_FILES": ("m/%Y", "m/%Y"),
        "DARSHAN_LOG_DIRS": ('{"sys": "/logs"}', {"sys": "/logs"}),
        "ESNET_SNMP_URI": ("https://example.org/snmp", "https://example.org/snmp"),
    }
    for name, (text, _value) in values.items():
        fresh.setenv("PYTOKIO_" + name, text)
    assert config.CONFIG["hdf5_files"] == "a/%Y.h5"  # not on a later read
    config.init_config()
    for name, (_text, value) in values.items():
        assert config.CONFIG[name.lower()] == value
    fresh.setenv("PYTOKIO_HDF5_FILES", "changed")
    assert config.CONFIG["hdf5_files"] == {"fs": ["x/%Y.h5"]}


def test_every_key_of_the_loaded_file_reads_back(fresh: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each key of the file, comments included, is in CONFIG and readable as an upper-case name."""
    for path in (config.DEFAULT_CONFIG_FILE, str(tmp_path / "site.json")):
        if path != config.DEFAULT_CONFIG_FILE:
            Path(path).write_text(json.dumps({"_note": "text", "Debug_Dummy": 3735928559}))
            fresh.setenv("PYTOKIO_CONFIG", path)
        config.init_config()
        with open(path) as handle:
            loaded = json.load(handle)
        assert set(config.CONFIG) == {key.lower() for key in loaded}
        for key, value in loaded.items():
            assert config.CONFIG[key.lower()] == value
            assert getattr(config, key.upper()) == value
