"""Where a job's nodes sit in the network, reduced to a few numbers (``tokio.tools.topology``).

The job's node list comes from :func:`atokio.tools.jobinfo.get_job_nodes`
(providers ``jobinfo_jobnodes_providers``, only ``slurm``), the position of
each node from the Cray service database's processor table
(:class:`atokio.connectors.craysdb.CraySdbProc`: ``x_coord``, ``y_coord``,
``z_coord`` of the record whose ``processor_id`` is the node's nid number).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import numpy as np

from atokio.connectors.craysdb import CraySdbProc
from atokio.tools import jobinfo

__all__ = ["get_job_diameter"]

logger = logging.getLogger(__name__)

_NID = re.compile(r"nid0*(\d+)$")


def get_job_diameter(
    jobid: str | int,
    nodemap_cache_file: str | None = None,
    jobinfo_cache_file: str | None = None,
) -> dict[str, float]:
    """Calculate the diameter of a job.

    A rough measure of how spread out a job's nodes are: nodes are taken as equal points of a 3-D network (their
    ``x_coord``, ``y_coord``, ``z_coord`` in the Cray SDB) and their distances
    to the job's centre of mass (the mean position) are measured.

    Args:
        jobid: the job whose nodes are looked up.
        nodemap_cache_file: a saved ``xtdb2proc -f -`` output (plain or gzip)
            giving the node positions; without it ``xtdb2proc`` is run.
        jobinfo_cache_file: a cache (e.g. a Slurm JSON cache) turning the job
            id into a node list; without it ``sacct`` is asked.

    Returns:
        ``{"job_min_radius": float, "job_max_radius": float, "job_avg_radius":
        float}``: the smallest, largest and mean distance between the centre of
        mass and a node.  ``{}`` (with a warning) when the job has no nodes or
        a node name is not of the form ``nidNNNNN``.

    Raises:
        atokio.common.ConfigError: no node-list provider knows the job.
        KeyError: a node of the job is not in the processor table.
    """
    nodes = jobinfo.get_job_nodes(jobid, cache_file=jobinfo_cache_file)
    if not nodes:
        logger.warning("job %s has no nodes", jobid)
        return {}
    nids = []
    for node in sorted(nodes):
        match = _NID.match(node)
        if match is None:
            logger.warning("cannot place node %r of job %s: not a nidNNNNN name", node, jobid)
            return {}
        nids.append(int(match.group(1)))

    if nodemap_cache_file:
        proc_table = CraySdbProc(cache_file=nodemap_cache_file)
    else:
        proc_table = CraySdbProc()

    points = np.empty((len(nids), 3), dtype=np.float64)
    for row, nid in enumerate(nids):
        record: Any = proc_table.get(nid)
        if record is None:
            raise KeyError(f"nid{nid:05d} (job {jobid}) is not in the Cray SDB processor table")
        points[row] = (record["x_coord"], record["y_coord"], record["z_coord"])

    center = points.mean(axis=0)
    distances = np.sqrt(((points - center) ** 2).sum(axis=1))
    return {
        "job_min_radius": float(distances.min()),
        "job_max_radius": float(distances.max()),
        "job_avg_radius": float(distances.mean()),
    }
