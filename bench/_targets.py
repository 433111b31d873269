"""Targets of the benchmarks, scaled to this machine by ``shared/bench/calibrate.py``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CALIBRATE = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "calibrate.py"


def machine_scale() -> float:
    """Single-core speed of this machine relative to the reference machine (1.0 without calibrate.py)."""
    if not CALIBRATE.exists():
        return 1.0
    out = subprocess.run(
        [sys.executable, str(CALIBRATE), "--json", "--repeats", "3"],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(out.stdout)["scale"])


def scaled_target(reference: float, ratio: float) -> tuple[float, float]:
    """``(scale, ratio x reference x scale)``: the target of a figure on this machine."""
    scale = machine_scale()
    return scale, reference * ratio * scale
