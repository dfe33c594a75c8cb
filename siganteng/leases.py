"""Keeping a lease alive while work runs.

Claimed rows (follow-ups, jobs) carry ``lease_until``: past it, a reconciler takes the
row back, assuming its worker died. Short leases make that recovery fast; a heartbeat
renews the lease while the work is still running, so slow work (an LLM call, a send with
retries) is never taken back from a live worker.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

from django.db import DatabaseError, connection

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def kept_alive(renew: Callable[[], bool], *, every: float) -> Iterator[None]:
    """Call ``renew()`` every ``every`` seconds on a background thread while the block
    runs. ``renew`` extends the lease with a conditional update and returns whether the
    row is still ours; once it is not, the heartbeat stops."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(every):
                try:
                    if not renew():
                        return
                except DatabaseError as exc:  # a missed beat: the next one may succeed
                    logger.warning("Renewing a lease failed: %s", exc)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name="lease-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every + 5)
