"""darshan_scoreboard.query_index_db filters: a comma-separated string (as the CLI gives) or a list."""

from __future__ import annotations

from corpus import INPUTS, need_corpus

from atokio.cli.darshan_scoreboard import query_index_db


def test_filters_as_lists_or_comma_strings() -> None:
    need_corpus()
    db = [str(INPUTS / "darshanlogs.db")]
    every = query_index_db(db)
    assert [row[3:] for row in every["per_fs"]] == [
        ["cscratch", "/global/cscratch1"],
        ["homes-u2", "/global/u2"],
    ]
    assert query_index_db(db, limit_fs=["cscratch"]) == query_index_db(db, limit_fs="cscratch")
    assert query_index_db(db, limit_fs=["/global/u2", "nothing"]) == query_index_db(
        db, limit_fs="/global/u2,nothing"
    )
    only_u2 = query_index_db(db, exclude_fs=["cscratch"])
    assert only_u2["per_fs"] == [[4502329088, 1086387, 1, "homes-u2", "/global/u2"]]
    one_user = query_index_db(db, limit_user=("ztbmj73pgr",), limit_exe=["1280436894"])
    assert one_user["per_user"] == [[4977629176, 5381239392, 1, "ztbmj73pgr"]]
    assert query_index_db(db, exclude_user=[]) == every
