"""A stopping task cluster: running work gets a grace, then is handed back.

django-q2 stops a cluster on SIGTERM by telling its pusher to fetch no more and queueing
one "STOP" per worker *behind* the wake-ups it had already fetched: each worker first
runs every prefetched task, then stops, however long that takes, and a supervisor's
SIGKILL at the end of its own grace leaves leased rows to the reconciler (a lease later)
with an attempt spent.

Our ``qcluster`` (siganteng/management/commands/qcluster.py) marks the stop here, in a
value every process of the cluster shares (created before the cluster forks its
sentinel and workers), with a deadline ``Q_STOP_GRACE_SECONDS`` ahead. The work reads it:

- a wake-up a worker takes once the cluster is stopping is handed back unstarted (a
  job's wake-up goes back to the broker for another cluster, a claimed follow-up back to
  SCHEDULED), so prefetched wake-ups cost no grace;
- a job or follow-up already running goes on until the deadline; then its lease
  heartbeat (:func:`siganteng.leases.kept_alive`) hands it back, so any cluster can take
  it at once without spending an attempt. Whatever the worker still computes after that
  is fenced off by the lease token.

Outside such a cluster (web processes, tests, ``Q_SYNC``) nothing is ever stopping.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import time

# The deadline (time.monotonic(), which every process of a machine shares), 0 while running.
_deadline: ctypes.c_double | None = None


def prepare() -> None:
    """Create the shared deadline; call in the cluster's main process before it forks."""
    global _deadline
    # A raw value, no lock: one process writes it once, and a worker SIGKILLed mid-read
    # must not leave a lock held for the others.
    _deadline = multiprocessing.get_context("fork").RawValue("d", 0.0)


def begin(*, grace: float) -> None:
    """Mark the cluster as stopping, its running work due back in ``grace`` seconds. A
    second call (a repeated SIGTERM) keeps the first deadline."""
    if _deadline is not None and not _deadline.value:
        _deadline.value = time.monotonic() + max(0.0, grace)


def stopping() -> bool:
    """Whether this process's cluster has been told to stop."""
    return _deadline is not None and _deadline.value > 0


def overdue() -> bool:
    """Whether the cluster is stopping and its grace for running work is over."""
    return stopping() and time.monotonic() >= _deadline.value
