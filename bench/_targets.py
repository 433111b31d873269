"""Shared driver of the benchmarks: the workload inputs, fresh-process timing and the targets.

Every ``bench_<workload>.py`` script times the documented call a user makes on
one workload of ``shared/bench/workloads.py`` (its ``manifest.json`` names the
inputs, their size and the records they hold):

* each timed run is a fresh Python process (the script run again with
  ``--child``) that imports and prepares what it needs untimed, then times the
  call alone, counts the records of what it returned and reports its peak RSS
  (``VmHWM``; child processes such as a ``darshan-parser`` or worker processes
  are reported apart);
* the figure is the median of ``--repeats`` (at least 3) runs, printed beside
  the target scaled to this machine by ``shared/bench/calibrate.py``, and the
  record count must equal the manifest's (the run fails otherwise);
* the CPU seconds of the call (this process and its child processes, such
  as a ``darshan-parser``; not the pool's worker processes, which are
  children of its fork server) are printed too: on a machine shared with
  other work they vary much less than the elapsed time, so they compare two
  versions of one-process code better.

Inputs are read from ``--inputs`` (default ``$ATOKIO_BENCH_DIR``, else
``/tmp/atokio-bench``, as ``workloads.py`` writes them); build them with::

    python3 ../shared/bench/workloads.py --cache-dir /work/bench-inputs --only lfs_df
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CALIBRATE = SHARED / "bench" / "calibrate.py"
WORKLOADS = SHARED / "bench" / "workloads.py"
DEFAULT_INPUTS = os.environ.get("ATOKIO_BENCH_DIR", "/tmp/atokio-bench")


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


def workload(name: str, inputs: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest entry of workload ``name`` under ``inputs`` (exits with how to build it)."""
    manifest = Path(inputs) / "manifest.json"
    how = f"build it with: python3 {WORKLOADS} --cache-dir {inputs} --only {name}"
    try:
        entry = json.loads(manifest.read_text())["workloads"][name]
    except FileNotFoundError:
        raise SystemExit(f"{manifest}: no manifest; {how}") from None
    except KeyError:
        raise SystemExit(f"{manifest}: workload {name!r} not built; {how}") from None
    missing = [path for path in entry["files"] if not os.path.exists(path)]
    if missing:
        raise SystemExit(f"{manifest}: input {missing[0]} of {name!r} is missing; {how}")
    return dict(entry)


def peak_rss_mb() -> float:
    """Peak resident memory of this process (``VmHWM``), in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


#: ``prepare(entry, options) -> (call, count)``: run untimed in the child; ``call()`` is
#: timed, ``count(result)`` gives the records of its result.
Prepare = Callable[
    [dict[str, Any], argparse.Namespace], tuple[Callable[[], Any], Callable[[Any], int]]
]


@dataclass
class Bench:
    """One workload's benchmark: what is called, in what unit, against which target."""

    workload: str
    #: The documented call, as printed (``FtpLog.from_file(path)``).
    call: str
    #: ``MB/s`` (bytes of the manifest), ``rows/s``/``logs/s`` (records of the manifest).
    unit: str
    #: The reference implementation's figure on the reference machine (None: no target).
    reference: float | None
    goal: float
    prepare: Prepare
    #: Further lines: ``(label, prepare)`` timed the same way (e.g. the parser alone).
    extra: list[tuple[str, Prepare]] = field(default_factory=list)
    #: Extra command-line options: ``(flags, keyword arguments of add_argument)``.
    options: list[tuple[tuple[str, ...], dict[str, Any]]] = field(default_factory=list)
    #: Records counted by a line may differ from the manifest's (a different shape).
    uncounted: frozenset[str] = frozenset()

    def amount(self, entry: dict[str, Any]) -> float:
        """What one pass handles, in the unit's numerator."""
        if self.unit == "MB/s":
            return float(entry["bytes_per_pass"]) / 1e6
        return float(entry["records"])

    def parser(self) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(description=f"{self.workload}: {self.call}")
        parser.add_argument("--inputs", default=DEFAULT_INPUTS, help="workloads.py --cache-dir")
        parser.add_argument("--repeats", type=int, default=3, help="fresh-process runs (median)")
        parser.add_argument("--profile", action="store_true", help="profile one run (pyinstrument)")
        parser.add_argument("--only", help="run only the line of this label ('main' or an extra)")
        parser.add_argument(
            "--paired",
            action="store_true",
            help="also run calibrate.py's probe in each timed process, just before and after "
            "the call, and judge each run against the target scaled by its own probe (the "
            "speed of a shared machine drifts between a separate calibration and the run)",
        )
        parser.add_argument("--child", help=argparse.SUPPRESS)
        for flags, kwargs in self.options:
            parser.add_argument(*flags, **kwargs)
        return parser

    def main(self, argv: list[str] | None = None) -> int:
        """Run the benchmark (or, with ``--child``, one timed run)."""
        args = self.parser().parse_args(argv)
        entry = workload(self.workload, args.inputs)
        lines = [("main", self.prepare), *self.extra]
        if args.child is not None:
            return _child(dict(lines)[args.child], entry, args)
        scale = machine_scale()
        target = None if self.reference is None else self.reference * self.goal * scale
        amount = self.amount(entry)
        load = os.getloadavg()
        print(
            f"{self.workload}: {entry.get('description', '')}; {entry['records']:,} "
            f"{entry.get('record_unit', 'records')}, {entry['bytes_per_pass'] / 1e6:.1f} MB"
        )
        print(
            f"machine scale {scale:.2f} (calibrate.py); load average {load[0]:.2f} {load[1]:.2f}; "
            f"median of {args.repeats} fresh processes, imports untimed"
        )
        passthrough = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--profile"]
        status = 0
        for label, _prepare in lines:
            if args.only and label != args.only:
                continue
            if args.profile:
                _run(label, passthrough + ["--profile"])
                continue
            runs = [_run(label, passthrough) for _ in range(max(1, args.repeats))]
            seconds = statistics.median(run["seconds"] for run in runs)
            cpu = statistics.median(run["cpu_s"] for run in runs)
            counts = {run["records"] for run in runs}
            rss = max(run["rss_mb"] for run in runs)
            children = max(run["children_rss_mb"] for run in runs)
            name = self.call if label == "main" else label
            figure = amount / seconds
            check = ""
            if label not in self.uncounted:
                if counts != {entry["records"]}:
                    check = f"  RECORD COUNT {sorted(counts)} != manifest {entry['records']}"
                    status = 1
                else:
                    check = "  records = manifest"
            verdict = paired = ""
            if target is not None and label == "main":
                verdict = (
                    f"   target {target:,.1f} {self.unit} ({self.goal:g}x {self.reference:,g} "
                    f"x {scale:.2f}) {'MET' if figure >= target else 'BELOW'}"
                )
            if args.paired and self.reference is not None and label == "main":
                # each run's figure over the target scaled by the probe of its own process
                ratios = [
                    amount / run["seconds"] / (self.reference * run["probe_scale"]) for run in runs
                ]
                ratio = statistics.median(ratios)
                paired = (
                    f"\n  paired: {ratio:.2f}x the reference (goal {self.goal:g}x; runs "
                    f"{', '.join(format(r, '.2f') for r in ratios)}; probe scales "
                    f"{', '.join(format(run['probe_scale'], '.2f') for run in runs)}) "
                    f"{'MET' if ratio >= self.goal else 'BELOW'}"
                )
            print(
                f"{name}: {figure:,.1f} {self.unit} ({seconds:.2f} s; runs "
                f"{', '.join(format(run['seconds'], '.2f') for run in runs)}; "
                f"CPU {cpu:.2f} s = {amount / cpu:,.1f} {self.unit.split('/')[0]}/CPU-s), "
                f"peak RSS {rss:.0f} MB"
                + (f" (+ child processes up to {children:.0f} MB)" if children else "")
                + verdict
                + check
                + paired
            )
        return status


def _cpu_seconds() -> tuple[float, float]:
    """CPU seconds of this process and of its finished child processes so far."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time(), children.ru_utime + children.ru_stime


def _run(label: str, argv: list[str]) -> dict[str, Any]:
    """One fresh-process run of line ``label``: its JSON report."""
    out = subprocess.run(
        [sys.executable, sys.argv[0], *argv, "--child", label],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{label}: the timed run failed (status {out.returncode})")
    lines = out.stdout.strip().splitlines()
    for line in lines[:-1]:
        print(line)
    return json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}


#: Scratch files of this process, removed before it ends.
_SCRATCH: list[str] = []


def _probe() -> Callable[[], float]:
    """calibrate.py's probe, ready to run in this process: each call gives the scale now."""
    import gzip
    import importlib.util
    import tempfile

    spec = importlib.util.spec_from_file_location("calibrate", CALIBRATE)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{CALIBRATE}: cannot load it for --paired")
    calibrate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(calibrate)
    text = gzip.decompress(calibrate.PROBE_INPUT.read_bytes())
    handle = tempfile.NamedTemporaryFile(prefix="atokio-probe-", delete=False)
    with handle:
        for _ in range(max(1, 20_000_000 // len(text))):  # about 20 MB
            handle.write(text)
    _SCRATCH.append(handle.name)
    return lambda: calibrate.probe(handle.name, 3) / calibrate.REFERENCE_PROBE_MB_S


def _child(prepare: Prepare, entry: dict[str, Any], args: argparse.Namespace) -> int:
    call, count = prepare(entry, args)
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
        call()
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False))
        return 0
    probe = _probe() if args.paired else None
    scales = [probe()] if probe else []
    cpu = _cpu_seconds()
    began = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - began
    cpu_self = time.process_time()
    if probe:
        scales.append(probe())
    records = count(result)
    workers = sys.modules.get("atokio.collectors.workers")
    if workers is not None and getattr(workers, "_POOL", None) is not None:
        workers._POOL.shutdown(wait=True)  # its processes hold our stdout open
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = {
        "seconds": seconds,
        # this process during the call, and every child process (workers, darshan-parser)
        "cpu_s": cpu_self - cpu[0] + children.ru_utime + children.ru_stime - cpu[1],
        "records": records,
        "rss_mb": peak_rss_mb(),
        "children_rss_mb": children.ru_maxrss / 1024,
        "probe_scale": statistics.fmean(scales) if scales else None,
    }
    print(json.dumps(report))
    sys.stdout.flush()
    for path in _SCRATCH:
        os.unlink(path)
    os._exit(0)  # do not wait for the teardown of big results
