"""Reference external worker: pulls jobs over the API, keeps its lease, uploads outputs.

    python -m jobs.worker --url http://127.0.0.1:8000 --key sgt_... --kinds image-to-3d,text-to-3d

The protocol, in order:
1. ``POST /api/v1/workers/claim {"kinds": [...], "worker_id": ...}`` → 204 (nothing to do)
   or a job with presigned input URLs, a ``lease_token`` and ``lease_expires_at``.
2. While working: ``POST /api/v1/workers/jobs/{id}/heartbeat`` (or ``/progress``) with the
   token, well before the lease expires. A 409 means the lease is lost: stop.
3. For each output: ``POST .../upload-ticket`` → a presigned PUT; PUT the bytes there.
4. ``POST .../complete {"lease_token", "outputs": [{"key": ...}], "result": {...}}`` or
   ``POST .../fail {"lease_token", "error", "retryable"}``.

The default executor (``demo``) needs no GPU: it writes a small JSON file describing the
job, so the whole protocol can be seen working end to end. Real fleets pass their own
``execute(job, worker) -> (outputs, result)`` to :meth:`Worker.run_once`.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx


class LeaseLost(Exception):
    """The server says this worker no longer holds the job."""


@dataclass
class Output:
    filename: str
    data: bytes
    content_type: str
    kind: str = "output"


Executor = Callable[[dict, "Worker"], tuple[list[Output], dict]]


class Worker:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        worker_id: str | None = None,
        timeout: float = 30.0,
        lease_seconds: int | None = None,
        heartbeat: bool = True,
    ):
        self.base_url = base_url.rstrip("/")
        self.worker_id = worker_id or f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"
        self.lease_seconds = lease_seconds
        self.heartbeat_enabled = heartbeat
        self.http = httpx.Client(timeout=timeout, headers={"X-API-Key": api_key})
        self.job: dict | None = None
        self.token: str | None = None

    # --- protocol calls -------------------------------------------------------------------

    def _post(self, path: str, body: dict) -> httpx.Response:
        resp = self.http.post(f"{self.base_url}/api/v1/{path}", json=body)
        if resp.status_code == 409:
            raise LeaseLost(resp.json()["error"]["message"])
        resp.raise_for_status()
        return resp

    def _lease_body(self, **extra: Any) -> dict:
        body = {"lease_token": self.token, **extra}
        if self.lease_seconds:
            body["lease_seconds"] = self.lease_seconds
        return body

    def claim(self, kinds: list[str]) -> dict | None:
        body: dict[str, Any] = {"kinds": kinds, "worker_id": self.worker_id}
        if self.lease_seconds:
            body["lease_seconds"] = self.lease_seconds
        resp = self._post("workers/claim", body)
        if resp.status_code == 204:
            self.job = self.token = None
            return None
        data = resp.json()
        self.job, self.token = data["job"], data["lease_token"]
        return self.job

    def heartbeat(self) -> None:
        self._post(f"workers/jobs/{self.job['id']}/heartbeat", self._lease_body())

    def progress(self, percent: int, message: str = "") -> None:
        self._post(
            f"workers/jobs/{self.job['id']}/progress", self._lease_body(progress_percent=percent, message=message)
        )

    def download_input(self, item: dict) -> bytes:
        resp = httpx.get(item["url"], timeout=60)
        resp.raise_for_status()
        return resp.content

    def upload(self, output: Output) -> dict:
        ticket = self._post(
            f"workers/jobs/{self.job['id']}/upload-ticket",
            self._lease_body(filename=output.filename, content_type=output.content_type, size_bytes=len(output.data)),
        ).json()
        put = httpx.request(
            ticket["method"], ticket["upload_url"], content=output.data, headers=ticket["headers"], timeout=120
        )
        put.raise_for_status()
        return {"key": ticket["key"], "content_type": output.content_type, "kind": output.kind}

    def complete(self, outputs: list[dict], result: dict) -> dict:
        return self._post(
            f"workers/jobs/{self.job['id']}/complete", {"lease_token": self.token, "outputs": outputs, "result": result}
        ).json()

    def fail(self, error: str, *, retryable: bool) -> dict:
        return self._post(
            f"workers/jobs/{self.job['id']}/fail", {"lease_token": self.token, "error": error, "retryable": retryable}
        ).json()

    # --- the loop -------------------------------------------------------------------------

    def _keep_lease(self, stop: threading.Event, every: float) -> None:
        while not stop.wait(every):
            try:
                self.heartbeat()
            except (LeaseLost, httpx.HTTPError):
                return

    def run_once(self, kinds: list[str], execute: Executor, *, heartbeat_every: float = 10.0) -> str | None:
        """Claim and run at most one job. Returns its id, or None when there was none."""
        job = self.claim(kinds)
        if job is None:
            return None
        stop = threading.Event()
        keeper = None
        if self.heartbeat_enabled:
            keeper = threading.Thread(target=self._keep_lease, args=(stop, heartbeat_every), daemon=True)
            keeper.start()
        try:
            outputs, result = execute(job, self)
            uploaded = [self.upload(o) for o in outputs]
            self.complete(uploaded, result)
        except LeaseLost:
            pass  # someone else has the job now; our work is discarded
        except Exception as exc:  # report, then let the server decide about retrying
            try:
                self.fail(f"{type(exc).__name__}: {exc}", retryable=True)
            except LeaseLost:
                pass
        finally:
            stop.set()
            if keeper is not None:
                keeper.join(timeout=5)
        return job["id"]


def demo_execute(job: dict, worker: Worker) -> tuple[list[Output], dict]:
    """Stands in for a GPU model: reads the inputs, reports progress, writes a JSON file."""
    sizes = [len(worker.download_input(item)) for item in job["inputs"]]
    for pct in (25, 50, 75):
        time.sleep(0.05)
        worker.progress(pct, f"{job['kind']}: {pct}%")
    body = json.dumps(
        {
            "job": job["id"],
            "kind": job["kind"],
            "prompt": job["prompt"],
            "params": job["input_params"],
            "input_sizes": sizes,
        }
    ).encode()
    return [Output("result.json", body, "application/json")], {"note": "demo executor", "inputs": len(sizes)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="SIGANTENG reference job worker")
    parser.add_argument("--url", required=True, help="API base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--key", required=True, help="an API key with the worker scope")
    parser.add_argument("--kinds", required=True, help="comma-separated model kinds this worker runs")
    parser.add_argument("--worker-id")
    parser.add_argument("--once", action="store_true", help="run at most one job, then exit")
    parser.add_argument("--poll", type=float, default=2.0, help="seconds to wait when there is no job")
    args = parser.parse_args(argv)
    worker = Worker(args.url, args.key, worker_id=args.worker_id)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    while True:
        job_id = worker.run_once(kinds, demo_execute)
        if job_id:
            print(f"done {job_id}", flush=True)
        if args.once:
            return 0
        if job_id is None:
            time.sleep(args.poll)


if __name__ == "__main__":
    sys.exit(main())
