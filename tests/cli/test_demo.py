"""scripts/demo on the darshan package's logs alone (a fresh clone without ../shared)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_teaches_without_the_corpus(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo"), "--here", "-o", str(out)]
        + ["--corpus", str(tmp_path / "no-corpus")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    text = done.stdout
    # the inventory adds up, and so does the index's own count
    staged = re.search(r"(\d+) distinct logs = (\d+) - (\d+), staged", text)
    assert staged is not None, text
    distinct, offered, repeats = map(int, staged.groups())
    assert distinct == offered - repeats and distinct >= 5
    indexing = re.search(r"Indexing (\d+) logs", text)
    indexed = re.search(r"Indexed (\d+) logs, (\d+) skipped", text)
    assert indexing and indexed, text
    assert int(indexing.group(1)) == distinct == int(indexed.group(1)) + int(indexed.group(2))
    # file systems by name, user ids where no name resolves, no UNKNOWN rows
    assert "edison-scratch2" in text and "cori-scratch" in text
    assert re.search(r"^ *\d+\. +uid69615 ", text, re.MULTILINE), text
    assert not re.search(r"^ *\d+\. .*UNKNOWN", text, re.MULTILINE), text
    # the staged tree and the configuration the commands used
    assert (out / "site.json").is_file()
    assert list(
        (out / "logs" / "2017" / "3" / "20").glob("uid69615_vpicio_uni_id4478544_*.darshan")
    )
    # the picture
    picture = out / "jobs.png"
    drawn = re.search(
        r"UMAMI diagram of these (\d+) jobs \(oldest to newest\) written to (\S+)\n", text
    )
    assert drawn and drawn.group(2) == str(picture), text
    assert int(drawn.group(1)) == int(re.search(r"(\d+) readable", text).group(1))  # type: ignore[union-attr]
    assert "== 6." not in text  # the corpus's TTS file is not there
    pixels = matplotlib.image.imread(str(picture))
    assert pixels.shape[0] > 300 and pixels.shape[1] > 500
    assert pixels[..., :3].std() > 0.05


@pytest.mark.slow
def test_demo_goes_on_past_an_unreadable_log(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "darshan").mkdir(parents=True)
    (corpus / "darshan" / "truncated_id1_1-1-1-1_1.darshan").write_bytes(b"")
    out = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo"), "--here", "-o", str(out)]
        + ["--corpus", str(corpus)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert re.search(r"staged in \S+: (\d+) readable, 1 unreadable", text), text
    assert "1 of " in done.stderr and "could not be read" in done.stderr
    assert "(exit status 1, as expected: a batch job sees that an input failed)" in text
    assert (out / "logs" / "unreadable" / "truncated_id1_1-1-1-1_1.darshan").is_file()
    assert (out / "jobs.png").is_file()  # the steps after the index ran
