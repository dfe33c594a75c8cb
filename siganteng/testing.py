"""Test utilities shared by every app's suite: a real local HTTP server that records
what it receives and answers through a handler function, and a real ``qcluster``
subprocess on the test database."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.db import connection

BASE_DIR = Path(__file__).resolve().parent.parent


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    """What a handler returns. ``chunks`` streams the body piece by piece (for SSE);
    ``delay`` sleeps before answering (for timeouts)."""

    status: int = 200
    body: bytes | str | dict | list | None = None
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] | None = None
    delay: float = 0.0


Handler = Callable[[Recorded], Reply]


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 with a random port.

    ``server.requests`` lists every request received; ``server.handler`` decides each
    answer and can be swapped mid-test.
    """

    def __init__(self, handler: Handler | None = None):
        self.handler: Handler = handler or (lambda req: Reply(200, {"ok": True}))
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        outer = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                rec = Recorded(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                with outer._lock:
                    outer.requests.append(rec)
                try:
                    reply = outer.handler(rec)
                except Exception as exc:  # a broken handler answers 500 so the test sees it
                    reply = Reply(500, {"error": f"test handler failed: {exc}"})
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    if reply.chunks is not None:
                        self.send_response(reply.status)
                        for k, v in reply.headers.items():
                            self.send_header(k, v)
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        for chunk in reply.chunks:
                            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                            self.wfile.flush()
                        self.wfile.write(b"0\r\n\r\n")
                        return
                    payload = reply.body
                    headers = dict(reply.headers)
                    if isinstance(payload, (dict, list)):
                        payload = json.dumps(payload).encode()
                        headers.setdefault("Content-Type", "application/json")
                    elif isinstance(payload, str):
                        payload = payload.encode()
                    payload = payload or b""
                    self.send_response(reply.status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LocalServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def subprocess_env(**overrides: str) -> dict[str, str]:
    """Environment for a child process (qcluster, gunicorn) that uses the same test
    database, broker and cache as the running test."""
    env = dict(os.environ)
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = str(db["NAME"])
    else:
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        host = db["HOST"] or "127.0.0.1"
        port = f":{db['PORT']}" if db["PORT"] else ""
        env["DATABASE_URL"] = f"postgres://{auth}@{host}{port}/{db['NAME']}"
    env["Q_CLUSTER_NAME"] = settings.Q_CLUSTER["name"]
    env["DJANGO_SETTINGS_MODULE"] = "siganteng.settings"
    env["PYTHONUNBUFFERED"] = "1"
    # Children count their metrics apart from the suite's own process: ``serve`` empties
    # its metrics directory at start, which would otherwise wipe the running suite's.
    env["PROMETHEUS_MULTIPROC_DIR"] = str(Path(settings.VAR_DIR) / f"metrics-children-{os.getpid()}")
    env.update(overrides)
    return env


@contextlib.contextmanager
def qcluster(log_path: Path | None = None, **env_overrides: str) -> Iterator[subprocess.Popen]:
    """Run a real ``manage.py qcluster`` for the duration of the block, then stop it
    (SIGTERM, then SIGKILL). The test must use committed data (``transaction=True``)."""
    log_path = log_path or Path(settings.VAR_DIR) / f"qcluster-{os.getpid()}-{time.time_ns()}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=BASE_DIR,
        env=subprocess_env(**env_overrides),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            # SIGTERM to qcluster's main process only: it stops its sentinel, pusher,
            # workers and monitor in order within a second or two. Signalling the whole
            # group makes them race and hang until the SIGKILL below (15 s per test).
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # any worker left behind
        log.close()


def kill_cluster(proc: subprocess.Popen) -> None:
    """SIGKILL the whole cluster process group at once, as a machine failure would."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def wait_until(
    predicate: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.1, message: str = "condition"
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


def run_concurrently(fn: Callable[[int], Any], n: int, *, timeout: float = 60.0) -> list[Any]:
    """Call ``fn(0)`` … ``fn(n - 1)`` on ``n`` threads released together (a barrier), and
    return their results in that order. Each thread closes its own database connection
    (left open, it would block dropping the PostgreSQL test database); the first
    exception a thread raised is raised here."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = fn(i)
        except BaseException as exc:  # re-raised below in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    if any(t.is_alive() for t in threads):
        raise AssertionError(f"a thread was still running after {timeout} s")
    if errors:
        raise errors[0]
    return results


CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = BASE_DIR / "var" / "screenshots"


@contextlib.contextmanager
def chromium(tmp_path: Path, *, width: int = 1280, height: int = 900, languages: str = "") -> Iterator[Any]:
    """A headless Debian Chromium driven by Selenium, with a fresh profile in ``tmp_path``;
    ``languages`` (``"id,en"``) is what it asks pages for, as a browser set to them would.

    Skips the test when Chromium, its driver or Selenium is not installed (CI installs
    them). The browser makes no background requests of its own, so every request it
    makes is one the page under test asked for.
    """
    import pytest

    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    if languages:
        options.add_argument(f"--lang={languages.split(',')[0]}")
        options.add_experimental_option("prefs", {"intl.accept_languages": languages})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def submit(driver: Any, css: str) -> None:
    """Click the submit button ``css`` names and wait for the next page, so what is read
    after it is that page (read mid-navigation on a busy machine, the body goes stale)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.expected_conditions import staleness_of
    from selenium.webdriver.support.ui import WebDriverWait

    button = driver.find_element(By.CSS_SELECTOR, css)
    button.click()
    WebDriverWait(driver, 20).until(staleness_of(button))


def screenshot(driver: Any, name: str) -> Path:
    """Save what the browser shows as ``var/screenshots/<name>.png``; returns the path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
