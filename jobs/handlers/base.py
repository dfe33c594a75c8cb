"""What a handler gets and may raise.

A handler is a callable ``handler(ctx: JobContext) -> dict`` returning the job's result.
It reports progress through ``ctx.progress()`` (which also renews the lease and raises
:class:`JobCanceled` if the job was canceled meanwhile), stores outputs with
``ctx.save_output()``, and signals failure with :class:`TransientJobError` (tried again
with backoff) or :class:`PermanentJobError` (the job FAILS with the message).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class JobError(Exception):
    permanent = True


class TransientJobError(JobError):
    permanent = False


class PermanentJobError(JobError):
    permanent = True


class JobCanceled(Exception):
    """The job was canceled (or its lease lost) while it ran: stop without writing."""


@dataclass
class JobContext:
    job_id: str
    tenant: Any
    model: Any
    prompt: str
    params: dict[str, Any]
    inputs: Any = field(default_factory=list)  # input Artifact rows (loaded on first use in the runner)
    report: Callable[[int, str], None] | None = None
    store: Callable[..., Any] | None = None

    def progress(self, percent: int, message: str = "") -> None:
        """Record progress; raises JobCanceled if the job must stop."""
        if self.report is not None:
            self.report(percent, message)

    def save_output(self, data: bytes, *, filename: str, content_type: str, kind: str = "output") -> Any:
        assert self.store is not None
        return self.store(data, filename=filename, content_type=content_type, kind=kind)


Handler = Callable[[JobContext], dict]
