"""The examples in README.md and docs/ run as written against a live server.

Code blocks marked with an HTML comment ``<!-- runnable -->`` on the line before the
fence are extracted page by page: a page's bash blocks run in order in one bash process
(so a block can use the variables an earlier one set), its python blocks inside that
script as heredocs. The server is ``manage.py serve`` (gunicorn and a real task cluster)
on the test database with the demo tenant seeded, as ``make run`` leaves it. The pages
write ``http://127.0.0.1:8000``, ``make run``'s address; it is replaced by this server's.

Each script gets ``BASE`` (the server), ``KEY`` (the demo tenant's key, as printed by
``manage.py seed``) and ``PLATFORM`` (the platform key the README tour starts the server
with), and ``curl`` fails on any HTTP error status, so a renamed request field (400) or a
response field that the page selects with jq (a null in jq's output) fails the page.
"""

from __future__ import annotations

import io
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command

from siganteng.testing import BASE_DIR, subprocess_env, wait_until

MARKER = "<!-- runnable -->"
MAKE_RUN_URL = "http://127.0.0.1:8000"
# The platform key the README tour starts `make run` with (a development value).
TOUR_PLATFORM_KEY = "dev-platform-key-change-me-0123456789ab"
PORTS = range(8180, 8190)
PAGE_TIMEOUT = 90
_FENCE = re.compile(r"^(?P<fence>`{3,})(?P<lang>\w+)?[^\n]*\n(?P<body>.*?)^(?P=fence)\s*$", re.M | re.S)


@dataclass
class Block:
    lang: str
    code: str
    line: int


def runnable_blocks(text: str) -> list[Block]:
    """The fenced blocks directly preceded by the marker line, in page order."""
    blocks = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        if before.strip() == MARKER:
            lang = match["lang"] or ""
            if lang not in {"bash", "python"}:
                raise AssertionError(f"runnable block of unsupported language {lang!r}")
            blocks.append(Block(lang, match["body"], text.count("\n", 0, match.start()) + 1))
    return blocks


def pages_with_examples() -> list[Path]:
    pages = [BASE_DIR / "README.md", *sorted((BASE_DIR / "docs").rglob("*.md"))]
    return [page for page in pages if runnable_blocks(page.read_text())]


def script_for(page: Path, base_url: str) -> str:
    """One bash script for the page: strict mode, a failing curl, then every block."""
    parts = [
        "set -euo pipefail",
        # Readers see plain curl; here an HTTP error status fails the page, with its body.
        'curl() { command curl --fail-with-body --max-time 30 "$@"; }',
        # A field the page selects that comes back null was renamed or dropped: fail.
        'jq() { local out; out=$(command jq "$@") || return $?; '
        'if grep -qE \'(^|[:[, ])null(,|$|])\' <<<"$out"; then echo "jq $*: a selected field is null" >&2; '
        "return 1; fi; printf '%s\\n' \"$out\"; }",
    ]
    for block in runnable_blocks(page.read_text()):
        code = block.code.replace(MAKE_RUN_URL, base_url)
        parts.append(f"# --- {page.name}:{block.line} ({block.lang})")
        if block.lang == "bash":
            parts.append(code)
        else:
            parts.append(f"\"$PYTHON\" - <<'DOCS_PYTHON_BLOCK'\n{code}DOCS_PYTHON_BLOCK")
    return "\n".join(parts) + "\n"


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


def test_the_marker_finds_blocks_and_only_marked_ones():
    text = (
        f"intro\n\n{MARKER}\n```bash\necho one\n```\n\n"
        f"```bash\necho unmarked\n```\n{MARKER}\n```python\nprint(2)\n```\n"
    )
    blocks = runnable_blocks(text)
    assert [(b.lang, b.code) for b in blocks] == [("bash", "echo one\n"), ("python", "print(2)\n")]


def test_the_readme_tour_and_the_guides_have_runnable_examples():
    names = {page.relative_to(BASE_DIR).as_posix() for page in pages_with_examples()}
    assert "README.md" in names
    assert {"docs/guides/chat.md", "docs/guides/knowledge.md", "docs/guides/jobs.md"} <= names


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_examples_run_against_a_live_server(tmp_path):
    if shutil.which("jq") is None or shutil.which("curl") is None:
        pytest.skip("the examples use curl and jq (.ci/run installs them)")
    t0 = time.monotonic()
    out = io.StringIO()
    call_command("seed", stdout=out)
    print(f"seed {time.monotonic() - t0:.1f}s")
    demo_key = re.search(r"Demo API key \(shown only now, store it\): (\S+)", out.getvalue()).group(1)

    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    env = subprocess_env(
        DEBUG="true",
        OUTBOUND_ALLOW_PRIVATE="true",
        PUBLIC_BASE_URL=base_url,
        ADMIN_API_KEY=TOUR_PLATFORM_KEY,
    )
    with open(log, "wb") as serve_out:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port), "--workers", "2", "--grace", "5"],
            cwd=BASE_DIR,
            env=env,
            stdout=serve_out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, timeout=60, message=f"the server on {base_url}")
        print(f"up {time.monotonic() - t0:.1f}s")
        failures, timings = [], []
        for page in pages_with_examples():
            started = time.monotonic()
            script = tmp_path / f"{page.stem}.sh"
            script.write_text(script_for(page, base_url))
            run_env = {**env, "BASE": base_url, "KEY": demo_key, "PLATFORM": TOUR_PLATFORM_KEY}
            run_env["PYTHON"] = sys.executable
            done = subprocess.run(
                ["bash", str(script)], cwd=BASE_DIR, env=run_env, capture_output=True, text=True, timeout=PAGE_TIMEOUT
            )
            timings.append(f"{page.relative_to(BASE_DIR)} {time.monotonic() - started:.1f}s")
            if done.returncode != 0:
                name = page.relative_to(BASE_DIR)
                failures.append(f"== {name} (exit {done.returncode})\n{done.stdout[-1500:]}\n{done.stderr[-2500:]}")
        print("examples ran:", ", ".join(timings))
        assert not failures, "\n".join(failures)
    finally:
        server.send_signal(signal.SIGTERM)
        t1 = time.monotonic()
        try:
            server.wait(timeout=40)
            print(f"stopped in {time.monotonic() - t1:.1f}s")
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
