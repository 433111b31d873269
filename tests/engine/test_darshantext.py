"""darshan-parser text on every core: the spooled command, the cutter and the pieces' merge."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atokio.collectors import darshantext
from atokio.collectors.darshantext import _Cutter, aparse_command_text, parse_text_file
from atokio.collectors.spool import spool_command
from atokio.collectors.subprocess import CommandTimeout
from atokio.parsers.base import ParseError, parse_all
from atokio.parsers.darshan import DarshanParser, build_darshan_dict, merge_darshan_dicts

HEADER = (
    b"# darshan log version: 3.10\n# exe: /bin/app\n# uid: 1\n# jobid: 7\n"
    b"# start_time: 1\n# end_time: 2\n# nprocs: 4\n# run time: 2\n"
    b"# mounted file systems (mount point and fs type)\n# -------------------------------------\n"
    b"# mount entry:\t/\text4\n\n# POSIX module data\n"
)


def records_text(records: int = 60, ranks: int = 4) -> bytes:
    """A --base text of ``records`` files, each on ``ranks`` ranks with three counters."""
    body = b"".join(
        b"POSIX\t%d\t%d\tPOSIX_%s\t%d\t/f%d\t/\text4\n" % (rank, record, name, rank, record)
        for record in range(records)
        for rank in range(ranks)
        for name in (b"OPENS", b"READS", b"WRITES")
    )
    return HEADER + body


def whole_dict(text: bytes) -> dict:
    return build_darshan_dict(parse_all(DarshanParser(), text))


def cut_growing(text: bytes, sizes: list[int], piece: int) -> list[tuple[int, int, str | None]]:
    """The pieces the cutter gives for ``text`` seen growing through ``sizes``."""
    cutter = _Cutter(lambda offset, n: text[offset : offset + n], piece)
    pieces = []
    for size in [*sorted(set(sizes)), len(text)]:
        pieces += cutter.cuts(min(size, len(text)), size >= len(text))
    return pieces


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=len(records_text())), max_size=15),
    piece=st.integers(min_value=64, max_value=20_000),
    window=st.integers(min_value=80, max_value=4_000),
)
def test_any_growth_gives_pieces_that_merge_to_the_whole(
    sizes: list[int], piece: int, window: int
) -> None:
    text = records_text()
    saved = darshantext.WINDOW
    darshantext.WINDOW = window
    try:
        pieces = cut_growing(text, sizes, piece)
    finally:
        darshantext.WINDOW = saved
    # the pieces tile the text, in order
    assert pieces[0][0] == 0 and pieces[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:], strict=False))
    result: dict = {}
    for start, stop, module in pieces:
        parser = DarshanParser(resume_module=module)
        merge_darshan_dicts(result, build_darshan_dict(parse_all(parser, text[start:stop])))
    assert result == whole_dict(text)


def test_the_cutter_keeps_text_without_record_boundaries_whole() -> None:
    total = HEADER + b"".join(b"total_POSIX_C%d: %d\n" % (k, k) for k in range(3000))
    assert cut_growing(total, [100, 5000, 20_000], 1000) == [(0, len(total), None)]


def _replay(tmp_path: Path, text: bytes, status: int = 0, stderr: str = "") -> list[str]:
    out = tmp_path / "out.txt"
    out.write_bytes(text)
    script = tmp_path / "replay"
    script.write_text(f'#!/bin/sh\ncat "{out}"\necho "{stderr}" >&2\nexit {status}\n')
    script.chmod(0o755)
    return [str(script)]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_command_output_parses_to_the_whole_dict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    text = records_text(400)
    monkeypatch.setattr(darshantext, "default_workers", lambda: workers)
    monkeypatch.setattr(darshantext, "WINDOW", 4096)
    argv = _replay(tmp_path, text, status=3, stderr="some warning")
    got = anyio.run(lambda: aparse_command_text(argv, source="replay", piece=8192))
    assert got.data == whole_dict(text)
    assert list(got.data["counters"]["posix"]) == [f"/f{k}" for k in range(400)]
    assert got.returncode == 3 and got.stderr.strip() == "some warning" and got.error is None


def test_a_bad_line_is_named_in_the_whole_output_and_what_came_before_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = records_text(400).split(b"\n")
    bad = len(lines) * 2 // 3
    text = b"\n".join([*lines[:bad], b"POSIX\tnot a record", *lines[bad:]])
    monkeypatch.setattr(darshantext, "WINDOW", 4096)
    got = anyio.run(
        lambda: aparse_command_text(_replay(tmp_path, text), source="replay", piece=8192)
    )
    assert isinstance(got.error, ParseError)
    assert got.error.line_number == bad + 1
    assert str(got.error).startswith(f"replay:{bad + 1}: ")
    kept = got.data["counters"]["posix"]
    before = whole_dict(b"\n".join(lines[:bad]) + b"\n")["counters"]["posix"]
    assert 0 < len(kept) <= len(before)
    assert all(kept[name] == before[name] for name in list(kept)[:-1])
    assert got.returncode == 0


def test_a_saved_file_parses_on_all_cores_to_the_whole_dict(tmp_path: Path) -> None:
    text = records_text(4000)
    assert len(text) > 1 << 20
    path = tmp_path / "base.txt"
    path.write_bytes(text)
    assert parse_text_file(str(path), workers=2) == whole_dict(text)
    lines = text.split(b"\n")
    bad = len(lines) - 10
    path.write_bytes(b"\n".join([*lines[:bad], b"POSIX\tnot a record", *lines[bad:]]))
    with pytest.raises(ParseError) as caught:
        parse_text_file(str(path), workers=2)
    assert caught.value.line_number == bad + 1


def test_the_spool_reports_growth_status_and_stderr_and_is_removed(tmp_path: Path) -> None:
    script = tmp_path / "slow"
    script.write_text("#!/bin/sh\nprintf abc\nsleep 0.2\nprintf defg\necho oops >&2\nexit 5\n")
    script.chmod(0o755)

    async def main() -> tuple[list[int], bytes, int | None, str, str]:
        sizes = []
        async with spool_command([str(script)]) as run:
            while not run.finished:
                sizes.append(await run.grown())
            return sizes, run.read(0, 100), run.returncode, run.stderr, run.path

    sizes, data, status, stderr, path = anyio.run(main)
    assert data == b"abcdefg" and sizes[-1] == 7 and 3 in sizes
    assert status == 5 and stderr == "oops\n"
    assert not Path(path).exists()


def test_a_large_scratch_file_is_removed_and_closed_in_the_background() -> None:
    import threading

    from atokio.collectors import spool

    size = spool._CLOSE_IN_BACKGROUND + 1000
    before = set(os.listdir("/proc/self/fd"))

    async def main() -> tuple[int, str]:
        async with spool_command(["head", "-c", str(size), "/dev/zero"]) as run:
            while not run.finished:
                await run.grown()
            return run.size, run.path

    got, path = anyio.run(main)
    assert got == size and not Path(path).exists()
    for thread in threading.enumerate():
        if thread.name == "atokio-spool-close":
            thread.join(5)
    assert set(os.listdir("/proc/self/fd")) <= before


def test_the_last_pieces_shrink_once_the_whole_output_is_known() -> None:
    text = records_text(3000)
    piece = 32 << 10
    lengths = [stop - start for start, stop, _ in cut_growing(text, [], piece)]
    assert lengths[0] >= piece and max(lengths[-4:]) < piece // 2
    assert min(lengths[:-1]) >= piece // 8


def test_the_spool_kills_a_command_past_its_deadline_and_finds_missing_ones() -> None:
    async def main() -> None:
        async with spool_command(
            [sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5
        ) as run:
            while not run.finished:
                await run.grown()

    with pytest.raises(CommandTimeout, match="did not finish within 0.5 s"):
        anyio.run(main)

    async def missing() -> None:
        async with spool_command(["/nonexistent/darshan-parser"]):
            pass

    with pytest.raises(FileNotFoundError, match="/nonexistent/darshan-parser: command not found"):
        anyio.run(missing)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_spooled_parse_runs_under_both_event_loops(tmp_path: Path, backend: str) -> None:
    text = records_text(100)
    got = anyio.run(
        lambda: aparse_command_text(_replay(tmp_path, text), source="replay", piece=4096),
        backend=backend,
    )
    assert got.data == whole_dict(text)


def test_an_unwritable_temporary_folder_is_named_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    from atokio.collectors import spool

    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(spool.tempfile, "mkstemp", refuse)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "ro"))

    async def main() -> None:
        async with spool_command(["true"]):
            pass

    with pytest.raises(OSError, match=r"ro \(Permission denied\): set TMPDIR to a writable folder"):
        anyio.run(main)


def _cold_pool() -> None:
    """Shut the worker pool down, so that the next parallel call has to start it."""
    from atokio.collectors import workers

    if workers._POOL is not None:
        workers.discard_pool(workers._POOL)


def test_this_process_parses_pieces_while_the_workers_start(tmp_path: Path) -> None:
    from atokio.collectors.workers import pool_started

    text = records_text(3000)
    path = tmp_path / "base.txt"
    path.write_bytes(text)
    pieces = cut_growing(text, [], 16 << 10)
    assert len(pieces) > 20

    async def parse() -> darshantext._Merger:
        merger = darshantext._Merger(str(path), "base.txt", 2, True, None, None)
        async with anyio.create_task_group() as group:
            merger.start(group)
            for piece in pieces:
                merger.submit(piece)
            merger.close()
        return merger

    _cold_pool()
    merger = anyio.run(parse)
    assert merger.error is None and merger.result == whole_dict(text)
    assert merger.parsed_here >= 1  # the first pieces did not wait for the workers
    assert pool_started()  # which the call started
    # with the pool running, every piece goes to the workers
    assert anyio.run(parse).parsed_here == 0


def test_an_output_parsed_in_one_piece_does_not_start_the_workers(tmp_path: Path) -> None:
    from atokio.collectors.workers import pool_started

    text = records_text(3)
    _cold_pool()
    got = anyio.run(lambda: aparse_command_text(_replay(tmp_path, text), source="replay"))
    assert got.data == whole_dict(text) and got.error is None
    assert not pool_started()


def test_no_stream_is_left_unclosed(tmp_path: Path) -> None:
    import gc
    import warnings

    text = records_text(3000)
    path = tmp_path / "base.txt"
    path.write_bytes(text)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert parse_text_file(str(path), workers=2) == whole_dict(text)
        assert parse_text_file(str(path), workers=1) == whole_dict(text)
        got = anyio.run(
            lambda: aparse_command_text(_replay(tmp_path, text), source="replay", piece=16384)
        )
        assert got.data == whole_dict(text)
        gc.collect()
    assert [str(w.message) for w in caught if "nclosed" in str(w.message)] == []


def test_a_bad_line_parsed_while_the_workers_start_is_located(tmp_path: Path) -> None:
    lines = records_text(3000).split(b"\n")
    bad = 200  # in the first pieces, which this process parses while the pool starts
    text = b"\n".join([*lines[:bad], b"POSIX\tbroken", *lines[bad:]])
    _cold_pool()
    got = anyio.run(
        lambda: aparse_command_text(_replay(tmp_path, text), source="replay", piece=4096)
    )
    assert isinstance(got.error, ParseError) and got.error.line_number == bad + 1
    before = whole_dict(b"\n".join(lines[:bad]) + b"\n")["counters"]["posix"]
    kept = got.data["counters"]["posix"]
    assert 0 < len(kept) <= len(before)
    assert all(kept[name] == before[name] for name in list(kept)[:-1])
