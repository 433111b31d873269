"""Small Lustre outputs generated in code (so the tests run without the corpus), and corpus access."""

from __future__ import annotations

import gzip
import os
import stat
import sys
from pathlib import Path

import pytest
from corpus import INPUTS

HEADER = "UUID                   1K-blocks        Used   Available Use% Mounted on\n"


def df_line(fs: str, role: str, index: int, total: int, used: int, avail: int, mount: str) -> str:
    """One ``lfs df`` target line, spaced as lfs prints it."""
    pct = round(100.0 * used / (used + avail))
    uuid = f"{fs}-{role}{index:04x}_UUID"
    return f"{uuid:<21s} {total:>11d} {used:>11d} {avail:>11d} {pct:>3d}% {mount}[{role}:{index}]\n"


def lfs_df(fs_list: list[tuple[str, str, int]], seed: int = 0) -> str:
    """An ``lfs df`` output for ``[(fsname, mount, n_osts)]`` (one MDT each)."""
    out = []
    for fs, mount, osts in fs_list:
        out.append(HEADER)
        out.append(df_line(fs, "MDT", 0, 2255453580, 115229304 + seed, 2106024648 - seed, mount))
        used_sum = avail_sum = 0
        for index in range(osts):
            used = 60000000000 + 1000003 * index + seed
            avail = 90000000000 - used - 327651352
            used_sum, avail_sum = used_sum + used, avail_sum + avail
            out.append(df_line(fs, "OST", index, 90767651352, used, avail, mount))
        pct = round(100.0 * used_sum / (used_sum + avail_sum))
        out.append(
            f"\nfilesystem summary:  {90767651352 * osts} {used_sum} {avail_sum} {pct:3d}% {mount}\n\n"
        )
    return "".join(out)


def lctl_dl(fs_list: list[tuple[str, int, int]], failed_over: dict[str, int] | None = None) -> str:
    """An ``lctl dl -t`` output for ``[(fsname, n_osts, net)]``.

    OST ``i`` is served from ``10.100.<net>.<5+i>``; ``failed_over`` moves an
    OST (by index, per fs) onto the server of the OST before it.
    """
    failed_over = failed_over or {}
    lines = []
    device = 0
    for fs, osts, net in fs_list:
        inst = f"ffff885f81a6{net:04d}"
        uuid = f"8dbdc7f6-8f86-86ea-052f-357e2db2{net:04d}"
        lines.append(f"{device:3d} UP mgc MGC10.100.{net}.3@o2ib{net} 3547302e-74a0 5\n")
        lines.append(f"{device + 1:3d} UP lov {fs}-clilov-{inst} {uuid} 4\n")
        lines.append(
            f"{device + 2:3d} UP mdc {fs}-MDT0000-mdc-{inst} {uuid} 5 10.100.{net}.4@o2ib{net}\n"
        )
        device += 3
        for index in range(osts):
            host = 5 + index - (1 if failed_over.get(fs) == index else 0)
            lines.append(
                f"{device:3d} UP osc {fs}-OST{index:04x}-osc-{inst} {uuid} 5 "
                f"10.100.{net}.{host}@o2ib{net}\n"
            )
            device += 1
    return "".join(lines)


def concatenate(outputs: list[tuple[int, str]]) -> str:
    """A NERSC concatenation: ``BEGIN <epoch>`` before each output."""
    return "".join(f"BEGIN {stamp}\n{text}" for stamp, text in outputs)


def corpus_file(name: str) -> Path:
    """A file of ``corpus/inputs``, or skip the test."""
    path = INPUTS / name
    if not path.exists():
        pytest.skip(f"sample corpus file {path} not found (the corpus lives beside the repository)")
    return path


def corpus_text(name: str) -> bytes:
    data = corpus_file(name).read_bytes()
    return gzip.decompress(data) if name.endswith(".gz") else data


STANDIN = """#!{python}
import sys
if sys.argv[1:] != {args!r}:
    sys.stderr.write("stand-in: unexpected arguments %r\\n" % sys.argv[1:])
    sys.exit(2)
sys.stdout.write(open({path!r}).read())
sys.stderr.write({stderr!r})
sys.exit({status})
"""


def install_standin(
    bin_dir: Path, name: str, args: list[str], output: str, status: int = 0, stderr: str = ""
) -> Path:
    """An executable ``bin_dir/name`` printing ``output`` (a stand-in for lfs / lctl)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    data = bin_dir / f"{name}.out"
    data.write_text(output)
    script = bin_dir / name
    script.write_text(
        STANDIN.format(
            python=sys.executable, args=args, path=str(data), status=status, stderr=stderr
        )
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


def path_with(bin_dir: Path) -> str:
    return str(bin_dir) + os.pathsep + os.environ.get("PATH", "")
