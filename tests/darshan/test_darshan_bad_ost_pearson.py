"""darshan_bad_ost's own Pearson correlation, against figures scipy.stats.pearsonr gave (1.17.1)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from darshan_corpus import package_logs

from atokio.cli import darshan_bad_ost
from atokio.cli.darshan_bad_ost import _betainc, pearson

# (x, y, r, p) as scipy.stats.pearsonr computed them before scipy was dropped
SCIPY_FIGURES = [
    ([1, 2, 3], [1, 2, 3.5], 0.9933992677987828, 0.0731863950403274),
    ([0, 0, 1, 1, 0.5], [10, 12, 3, 4, 8], -0.9747660842063182, 0.0047935817038759045),
    ([1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5], 0.8285714285714283, 0.04156268221574357),
]


@pytest.mark.parametrize(("x", "y", "r", "p"), SCIPY_FIGURES)
def test_pearson_matches_scipy(x: list[float], y: list[float], r: float, p: float) -> None:
    got_r, got_p = pearson(x, y)
    assert got_r == pytest.approx(r, rel=1e-12)
    assert got_p == pytest.approx(p, rel=1e-10)


def test_pearson_edges() -> None:
    assert pearson([1, 2], [2, 1]) == (pytest.approx(-1.0), 1.0)
    # rounding leaves r a hair below 1; scipy gave the same p (1.3415758552508146e-08)
    r, p = pearson([1, 2, 3], [2, 4, 6])
    assert r == pytest.approx(1.0, abs=1e-15) and p == pytest.approx(
        1.3415758552508146e-08, rel=1e-6
    )
    with pytest.raises(ValueError, match="at least 2 pairs"):
        pearson([1], [2])
    with pytest.raises(ValueError, match="constant"):
        pearson([1, 1, 1], [1, 2, 3])
    with pytest.raises(ValueError, match="one length"):
        pearson([1, 2, 3], [1, 2])


def test_betainc_known_values() -> None:
    # I_x(1, 1) = x; I_x(a, 1) = x**a; I_0.5(a, a) = 0.5
    assert _betainc(1.0, 1.0, 0.3) == pytest.approx(0.3, rel=1e-14)
    assert _betainc(2.5, 1.0, 0.7) == pytest.approx(0.7**2.5, rel=1e-13)
    assert _betainc(7.0, 7.0, 0.5) == pytest.approx(0.5, rel=1e-13)
    # I_x(1/2, 1/2) = (2/pi) asin(sqrt(x))
    assert _betainc(0.5, 0.5, 0.2) == pytest.approx(2 / math.pi * math.asin(math.sqrt(0.2)))
    assert _betainc(3.0, 0.5, 0.0) == 0.0 and _betainc(3.0, 0.5, 1.0) == 1.0


def test_bad_ost_sample_log_as_before(capsys: pytest.CaptureFixture[str]) -> None:
    """The darshan package's sample-badost log gives the table scipy gave (OST#14 unhealthy)."""
    log = str(package_logs()["sample-badost"])
    assert darshan_bad_ost.main(["-j", "-p", "0.01", log]) == 0
    rows = json.loads(capsys.readouterr().out)
    want = [
        ("OST#14", -0.7031362972573598, 2.473047514446202e-305),
        ("OST#8", -0.10165123052242117, 4.03940214832184e-06),
        ("OST#7", -0.06687956168773851, 0.0024604260024283127),
        ("OST#9", -0.060434242351636594, 0.006223401742212321),
        ("OST#16", 0.06769873022367782, 0.0021742165954692647),
        ("OST#5", 0.07537346422031327, 0.0006406642205498476),
        ("OST#15", 0.08240152556725652, 0.00018910699849346077),
        ("OST#3", 0.10021519554257283, 5.522393008752635e-06),
        ("OST#11", 0.11442331562881003, 2.079269272182128e-07),
        ("OST#13", 0.11853842225823329, 7.442797851303324e-08),
        ("OST#4", 0.140262289948913, 1.8271224759310483e-10),
    ]
    assert [row["ost_name"] for row in rows] == [name for name, _, _ in want]
    for row, (_, r, p) in zip(rows, want, strict=True):
        assert row["coefficient"] == pytest.approx(r, rel=1e-10)
        assert row["p-value"] == pytest.approx(p, rel=1e-9)
    assert darshan_bad_ost.main([log]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == [
        "OST Name    Correlation    P-Value",
        "OST#14           -0.703 2.473e-305 <-- this OST looks unhealthy",
        "OST#8            -0.102  4.039e-06",
    ]
    assert len(lines) == 16


def test_bad_ost_does_not_import_scipy() -> None:
    source = Path(darshan_bad_ost.__file__).read_text()
    assert "scipy" not in source


def test_ost_dataframe_rows_spread_one_file_over_its_osts() -> None:
    log = str(package_logs()["sample-badost"])
    frame = darshan_bad_ost.darshanlogs_to_ost_dataframe([log])
    summary = darshan_bad_ost.summarize_darshan_perf([log])
    assert list(frame.index) == list(summary)
    assert frame.columns[0] == "performance"
    assert all(name.startswith("OST#") for name in frame.columns[1:])
    osts = frame.drop(columns="performance")
    assert osts.sum(axis=1).round(12).eq(1.0).all()
    first = next(iter(summary))
    spread = summary[first]["ost_list"]
    assert sorted(int(c[4:]) for c in osts.columns[osts.loc[first] > 0]) == spread
    assert frame.loc[first, "performance"] == summary[first]["performance"]
    # the correlations are those of the frame's columns
    rows = darshan_bad_ost.correlate_ost_performance([log])
    r14, _ = pearson(frame["OST#14"].to_numpy(), frame["performance"].to_numpy())
    assert {row["ost_name"]: row["coefficient"] for row in rows}["OST#14"] == r14
