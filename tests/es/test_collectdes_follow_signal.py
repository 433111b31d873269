"""``archive_collectdes --follow`` as a real process, stopped with SIGTERM."""

from __future__ import annotations

import datetime
import glob
import os
import sys
import time
from pathlib import Path

import h5py
import numpy as np
from es_server import generated, running
from fixtures_common import follow_until_sigterm


def test_sigterm_stops_cleanly(tmp_path: Path) -> None:
    """Live documents on the loopback server: the first poll is committed, then SIGTERM."""
    start = datetime.datetime.now().replace(microsecond=0) - datetime.timedelta(minutes=2)
    epoch = int(time.mktime(start.timetuple()))
    docs = generated(2 * 12 * 60, nodes=2, start=epoch)  # 10 minutes of documents, 2 nodes
    output = tmp_path / "%Y-%m-%d" / "coribb.hdf5"
    with running(docs) as server:
        env = dict(os.environ, TZ=os.environ.get("TZ", "America/Los_Angeles"))
        command = [sys.executable, "-m", "atokio.cli.archive_collectdes", "--follow"]
        command += ["--timestep", "10", "--num-nodes", "2", "--ssds-per-node", "2"]
        command += ["-h", "127.0.0.1", "-p", str(server.port), "-o", str(output)]
        command += [start.strftime("%Y-%m-%dT%H:%M:%S")]
        done = follow_until_sigterm(command, env, str(tmp_path / "*" / "coribb.hdf5"), settle=1.0)
        assert server.log.open_contexts() == []  # every scroll released, the last one too
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    files = sorted(glob.glob(str(tmp_path / "*" / "coribb.hdf5")))
    assert files
    present = 0
    for path in files:
        with h5py.File(path, "r") as h5:  # a file that opens: committed and closed cleanly
            stamps = h5["datatargets/timestamps"][...]
            assert int(stamps[1] - stamps[0]) == 10
            data = h5["datatargets/readrates"][...]
            present += int(np.count_nonzero(~((data == 0) & np.signbit(data))))
    assert present > 0  # the first poll (two minutes of documents) was written
