"""Fixtures of the pytokio drop-in tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conform_standins import make_standin


@pytest.fixture
def standin(tmp_path: Path) -> Callable[..., tuple[Path, Path]]:
    """``standin(name, text, status=0)`` -> (executable, call log): prints ``text``, logs argv."""

    def make(name: str, text: str, status: int = 0) -> tuple[Path, Path]:
        return make_standin(tmp_path, name, text, status)

    return make
