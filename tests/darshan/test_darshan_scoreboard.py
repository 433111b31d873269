"""darshan_scoreboard on the reference's own index (corpus darshanlogs.db) and on small made-up ones."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from darshan_corpus import INPUTS, need_corpus

from atokio.cli import darshan_scoreboard as cli
from atokio.cli._common import as_program

TITLES = {"per_user": "Users", "per_fs": "File Systems", "per_exe": "Applications",
          "per_user_exe_fs": "User/App/FS"}  # fmt: skip


def reference_db() -> str:
    need_corpus()
    return str(INPUTS / "darshanlogs.db")


def expected(db: str, keep: Callable[[dict[str, Any]], bool] = lambda row: True) -> dict[str, list]:
    """The four categories worked out in Python from the plain rows of an index."""
    conn = sqlite3.connect(db)
    rows = [
        dict(
            zip(
                ("filename", "username", "exename", "mountpt", "fsname", "read", "write"),
                r,
                strict=True,
            )
        )
        for r in conn.execute(
            "SELECT h.filename, h.username, h.exename, m.mountpt, m.fsname, s.bytes_read, "
            "s.bytes_written FROM summaries s, headers h, mounts m "
            "WHERE s.log_id = h.log_id AND s.fs_id = m.fs_id"
        )
    ]
    conn.close()
    keys: dict[str, Callable[[dict[str, Any]], tuple]] = {
        "per_user": lambda r: (r["username"],),
        "per_fs": lambda r: (r["fsname"], r["mountpt"]),
        "per_exe": lambda r: (r["exename"],),
        "per_user_exe_fs": lambda r: (f"{r['username']}|{r['exename']}|{r['fsname']}",),
    }
    out = {}
    for category, key in keys.items():
        groups: dict[tuple, list] = {}
        for row in filter(keep, rows):
            group = groups.setdefault(key(row), [0, 0, set()])
            group[0] += row["read"]
            group[1] += row["write"]
            group[2].add(row["filename"])
        table = [[r, w, len(files), *k] for k, (r, w, files) in groups.items()]
        out[category] = sorted(table, key=lambda t: -(t[0] + t[1]))
    return out


def text_lines(data: dict[str, list], max_show: int = 10) -> list[str]:
    lines: list[str] = []
    for category, title in TITLES.items():
        rows = data[category]
        if not rows:
            continue
        if lines:
            lines.append("")
        lines.append(f"{'#':>2}  {title:>40} {'Read(GiB)':>10} {'Write(GiB)':>10} {'# Jobs':>8}")
        lines.append("=" * 75)
        for rank, row in enumerate(rows[:max_show], start=1):
            key = row[3].replace("|", ", ")
            lines.append(
                f"{rank:2d}. {key:>40} {row[0] / 2**30:10.1f} {row[1] / 2**30:10.1f} {row[2]:8d}"
            )
    return lines


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert cli.main(list(argv)) == 0
    return capsys.readouterr().out


# -- the reference index --------------------------------------------------------------


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    db = reference_db()
    out = run(capsys, "--json", db)
    want = expected(db)
    assert out == json.dumps(want, indent=4, sort_keys=True) + "\n"
    assert len(want["per_user"]) == 22 and len(want["per_fs"]) == 2
    assert want["per_fs"][0][3:] == ["cscratch", "/global/cscratch1"]
    assert want["per_user_exe_fs"][0][3] == "ztbmj73pgr|1280436894|cscratch"
    assert run(capsys, "--json", "--max-show", "1", db) == out  # --max-show is for text only


def test_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    db = reference_db()
    lines = run(capsys, db).splitlines()
    assert lines == text_lines(expected(db))
    assert lines[:4] == [
        " #                                     Users  Read(GiB) Write(GiB)   # Jobs",
        "=" * 75,
        " 1.                               ztbmj73pgr        4.6        5.0        1",
        " 2.                               wgrmxn3ydw        4.2        0.0        1",
    ]
    assert lines[13:17] == [
        " #                              File Systems  Read(GiB) Write(GiB)   # Jobs",
        "=" * 75,
        " 1.                                 cscratch        6.6        5.2       21",
        " 2.                                 homes-u2        4.2        0.0        1",
    ]
    assert run(capsys, "--max-show", "3", db).splitlines() == text_lines(expected(db), 3)
    assert run(capsys, "--max-s", "3", db).splitlines() == text_lines(
        expected(db), 3
    )  # abbreviated


@pytest.mark.parametrize(
    ("argv", "keep"),
    [
        (["--limit-fs", "homes%"], lambda r: r["fsname"].startswith("homes")),
        (["--limit-fs", "/global/cscratch1"], lambda r: r["mountpt"] == "/global/cscratch1"),
        (["--limit-fs", "nothing,%u2"], lambda r: r["mountpt"].endswith("u2")),
        (["--exclude-fs", "cscratch"], lambda r: r["fsname"] != "cscratch"),
        (["--limit-user", "zt%,wg%"], lambda r: r["username"][:2] in ("zt", "wg")),
        (["--exclude-user", "zt%,wg%"], lambda r: r["username"][:2] not in ("zt", "wg")),
        (["--limit-exe", "1_8%"], lambda r: r["exename"][0] == "1" and r["exename"][2] == "8"),
        (["--exclude-exe", "%9%"], lambda r: "9" not in r["exename"]),
        (
            ["--limit-fs", "cscratch", "--exclude-user", "z%", "--limit-exe", "1%"],
            lambda r: (
                r["fsname"] == "cscratch" and r["username"][0] != "z" and r["exename"][0] == "1"
            ),
        ),
        (["--limit-user", "x' OR '1'='1"], lambda r: False),  # bound, never pasted into the SQL
    ],
)
def test_filters(capsys: pytest.CaptureFixture[str], argv: list[str], keep: Callable) -> None:
    db = reference_db()
    assert json.loads(run(capsys, "--json", *argv, db)) == expected(db, keep)


def test_filters_are_exclusive_pairs(capsys: pytest.CaptureFixture[str]) -> None:
    for pair in ("fs", "user", "exe"):
        with pytest.raises(SystemExit) as caught:
            cli.main([f"--limit-{pair}", "a", f"--exclude-{pair}", "b", "x.db"])
        assert caught.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_several_databases_are_concatenated(capsys: pytest.CaptureFixture[str]) -> None:
    db = reference_db()
    one = expected(db)
    both = json.loads(run(capsys, "--json", db, db))
    assert both == {category: rows + rows for category, rows in one.items()}
    doubled = {c: [r for row in rows for r in (row, row)] for c, rows in one.items()}
    assert run(capsys, "--max-show", "4", db, db).splitlines() == text_lines(doubled, 4)


def test_query_function_and_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    db = reference_db()
    top = cli.query_index_db([db], max_results=3, exclude_fs="homes%")
    assert top == {
        c: rows[:3] for c, rows in expected(db, lambda r: r["fsname"] != "homes-u2").items()
    }
    assert cli.query_index_db(db, limit_user="ztbmj73pgr")["per_user"] == [
        expected(db)["per_user"][0]
    ]
    cli.VERBOSITY = 1
    try:
        cli.query_index_db([db], limit_user="zt%")
    finally:
        cli.VERBOSITY = 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 4 and all(line.startswith("SELECT ") for line in printed)
    assert printed[0].endswith("['zt%']")
    out = run(capsys, "-v", "--json", db)
    assert out.startswith("SELECT ")


def test_missing_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert as_program(cli.main, [str(tmp_path / "none.db")]) == 1
    assert capsys.readouterr().err == (
        f"darshan_scoreboard: input file does not exist: {tmp_path / 'none.db'}: check the path\n"
    )
    assert not (tmp_path / "none.db").exists()


# -- how keys are shown --------------------------------------------------------------------


def make_index(path: Path, logs: list[tuple[str | None, str, str, str, int, int]]) -> str:
    """An index with one summary row per (user, exe, mountpt, fsname, read, write)."""
    from atokio.cli import index_darshanlogs as index

    conn = sqlite3.connect(path)
    index.create_mount_table(conn)
    index.create_headers_table(conn)
    index.create_summaries_table(conn)
    for n, (user, exe, mountpt, fsname, read, write) in enumerate(logs):
        conn.execute(
            "INSERT OR IGNORE INTO mounts (mountpt, fsname) VALUES (?, ?)", (mountpt, fsname)
        )
        fs_id = conn.execute("SELECT fs_id FROM mounts WHERE mountpt = ?", (mountpt,)).fetchone()[0]
        cursor = conn.execute(
            "INSERT INTO headers (filename, username, exename) VALUES (?, ?, ?)",
            (f"log{n}", user, exe),
        )
        conn.execute(
            "INSERT INTO summaries (log_id, fs_id, bytes_read, bytes_written) VALUES (?, ?, ?, ?)",
            (cursor.lastrowid, fs_id, read, write),
        )
    conn.commit()
    conn.close()
    return str(path)


def test_key_display(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = make_index(
        tmp_path / "index.db",
        [
            (
                "alice",
                "a_very_long_executable_name_that_goes_on_and_on",
                "/scratch",
                "scratch",
                3 * 2**30,
                0,
            ),
            (None, "anonymous", "/home", "home", 2**29, 2**28),
        ],
    )
    lines = run(capsys, db).splitlines()
    assert lines[2] == " 1.                                    alice        3.0        0.0        1"
    assert lines[3] == " 2.                UNKNOWN, UNKNOWN, UNKNOWN        0.5        0.2        1"
    assert (
        lines[12] == " 1. a_very_long_executa...hat_goes_on_and_on        3.0        0.0        1"
    )
    key = "alice, a_very_long_executable_name_that_goes_on_and_on, scratch"
    assert lines[17] == f" 1. {key[:19]}...{key[-18:]}        3.0        0.0        1"
    assert (
        lines[18] == " 2.                UNKNOWN, UNKNOWN, UNKNOWN        0.5        0.2        1"
    )
    assert len(lines) == 19
    excluded = json.loads(run(capsys, "--json", "--exclude-user", "bob", db))["per_user"]
    assert [row[3] for row in excluded] == ["alice", None]  # an exclusion never drops NULL users


def test_empty_index_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = make_index(tmp_path / "empty.db", [])
    assert run(capsys, db) == ""
    assert json.loads(run(capsys, "--json", db)) == {c: [] for c in TITLES}
