"""archive_collectdes reports documents outside the archive's range as a Python warning."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from corpus import INPUTS, need_corpus

from atokio.cli import archive_collectdes


def test_documents_outside_the_range_warn(tmp_path: Path) -> None:
    need_corpus()
    output = tmp_path / "part.hdf5"
    argv = ["--input", str(INPUTS / "sample_collectdes-part.json.gz"), "--num-nodes", "16",
            "-o", str(output), "2017-12-13T00:00:00", "2017-12-13T00:10:00"]  # fmt: skip
    with pytest.warns(UserWarning, match="3676 documents outside the file's time range"):
        assert archive_collectdes.main(argv) in (0, None)


def test_documents_inside_the_range_do_not_warn(tmp_path: Path) -> None:
    need_corpus()
    output = tmp_path / "part.hdf5"
    argv = ["--input", str(INPUTS / "sample_collectdes-part.json.gz"), "--num-nodes", "16",
            "-o", str(output), "2017-12-12T12:00:00", "2017-12-13T12:00:00"]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert archive_collectdes.main(argv) in (0, None)
    assert output.is_file()
