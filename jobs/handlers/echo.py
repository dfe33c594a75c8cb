"""The trivial model: returns its prompt. Used by the benchmark and, with
``delay_seconds``, as a slow job in the reliability tests (progress every step)."""

from __future__ import annotations

import time

from jobs.handlers.base import JobContext


def echo(ctx: JobContext) -> dict:
    delay = float(ctx.params.get("delay_seconds") or 0)
    steps = max(1, int(ctx.params.get("steps") or (int(delay * 4) if delay else 1)))
    if delay:
        for i in range(steps):
            time.sleep(delay / steps)
            ctx.progress(int(100 * (i + 1) / steps) if i + 1 < steps else 99, f"step {i + 1}/{steps}")
    result: dict = {"text": ctx.prompt}
    if ctx.params.get("write_output"):
        ctx.save_output(ctx.prompt.encode(), filename="echo.txt", content_type="text/plain")
    return result
