"""The test tree itself: every test folder can be collected with every other."""

from __future__ import annotations

import collections
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_module_basenames_are_unique() -> None:
    """Test folders are not packages, so two modules with one basename cannot both be imported."""
    seen = collections.defaultdict(list)
    for path in TESTS.rglob("*.py"):
        if path.name != "conftest.py":
            seen[path.name].append(str(path.relative_to(TESTS)))
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}


def test_no_module_imports_a_conftest() -> None:
    """Shared test data lives in named modules: ``conftest`` is a different module per folder."""
    patterns = ("from " + "conftest import", "import " + "conftest")
    offenders = [
        str(path.relative_to(TESTS))
        for path in TESTS.rglob("*.py")
        if any(pattern in path.read_text() for pattern in patterns)
    ]
    assert offenders == []
