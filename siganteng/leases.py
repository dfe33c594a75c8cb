"""Keeping a lease alive while work runs.

Claimed rows (follow-ups, jobs) carry ``lease_until``: past it, a reconciler takes the
row back, assuming its worker died. Short leases make that recovery fast; a heartbeat
renews the lease while the work is still running, so slow work (an LLM call, a send with
retries) is never taken back from a live worker. In a cluster that is stopping, the same
heartbeat hands the row back once the cluster's grace is over (siganteng.shutdown).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator

from django.db import DatabaseError, connection

from siganteng import shutdown

logger = logging.getLogger(__name__)

# How often a heartbeat that can hand its row back looks whether the grace is over.
STOP_CHECK_SECONDS = 0.25


@contextlib.contextmanager
def kept_alive(renew: Callable[[], bool], *, every: float, release: Callable[[], bool] | None = None) -> Iterator[None]:
    """Call ``renew()`` every ``every`` seconds on a background thread while the block
    runs. ``renew`` extends the lease with a conditional update and returns whether the
    row is still ours; once it is not, the heartbeat stops.

    ``release``, if given, is called once this process's cluster is stopping and its
    grace is over (:func:`siganteng.shutdown.overdue`): it gives the row back (a
    conditional update) and returns whether it did; then the heartbeat stops and the
    work still running is fenced off by its token. When it returns False (the row cannot
    be let go, e.g. a request that cannot be repeated is in flight), the lease is renewed
    as before."""
    stop = threading.Event()

    def attempt(step: Callable[[], bool], what: str) -> bool | None:
        try:
            return step()
        except DatabaseError as exc:  # a missed beat: the next one may succeed
            logger.warning("%s a lease failed: %s", what, exc)
            return None

    def beat() -> None:
        hand_back = release
        due = time.monotonic() + every
        try:
            while True:
                wait = due - time.monotonic()
                if hand_back is not None:
                    wait = min(wait, STOP_CHECK_SECONDS)
                if stop.wait(max(0.0, wait)):
                    return
                if hand_back is not None and shutdown.overdue():
                    released = attempt(hand_back, "Releasing")
                    if released:
                        return
                    if released is False:
                        hand_back = None  # not ours to let go: keep it alive until the work ends
                if time.monotonic() >= due:
                    due = time.monotonic() + every
                    if attempt(renew, "Renewing") is False:
                        return
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name="lease-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every + 5)
