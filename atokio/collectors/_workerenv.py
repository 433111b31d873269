"""The environment of the worker processes, set in the fork server before numpy is imported.

The pool runs one worker process per core, so the thread pools of the numeric
libraries (OpenBLAS, OpenMP, MKL) would only compete with the other workers;
one thread each is also what Dask gives its worker processes.  Starting
OpenBLAS's pool when numpy is imported costs the fork server about 50 ms of CPU
time, while the caller waits for its first workers.  A value the caller set
is kept.
"""

from __future__ import annotations

import os

#: The variables set, and the value each gets unless the caller set it.
THREAD_LIMITS = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}

for _name, _value in THREAD_LIMITS.items():
    os.environ.setdefault(_name, _value)
