"""``manage.py serve``: the web server (gunicorn), the task cluster (qcluster) and the
follow-up dispatcher as child processes in the foreground.

Ctrl-C (SIGINT), SIGTERM and SIGHUP (the terminal closing) stop them all: each child runs in
its own process group and gets SIGTERM (gunicorn finishes in-flight requests; qcluster
fetches no more, hands back the wake-ups it had fetched and gives running jobs and
follow-ups ``Q_STOP_GRACE_SECONDS`` before it releases them to the queue, see
siganteng.shutdown; the dispatcher ends its pass), then SIGKILL after ``--grace``
seconds, by default 10 s more than the cluster's grace. If either child dies on its own,
the other is stopped too and the command exits non-zero, so a supervisor sees the failure
instead of half a system. On Linux each child is also told by the kernel to stop when
this command dies without a chance to clean up (SIGKILL, a crash): no orphan keeps the
port or the queue.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

BASE_DIR = Path(settings.BASE_DIR)
# Each stops both children; SIGHUP is what a closing terminal sends.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class Command(BaseCommand):
    help = "Run the web server and the task cluster together until Ctrl-C, SIGTERM or SIGHUP."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
        parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker")
        parser.add_argument(
            "--grace",
            type=float,
            default=settings.Q_STOP_GRACE_SECONDS + 10,
            help="seconds to wait before SIGKILL (default: Q_STOP_GRACE_SECONDS + 10)",
        )

    def handle(self, *args, **options):
        self._stopping = False
        self._signal = 0
        _clear_metrics(Path(settings.METRICS_DIR))
        web_cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "siganteng.wsgi:application",
            "--bind",
            f"{options['host']}:{options['port']}",
            "--workers",
            str(options["workers"]),
            # Threads let streaming (server-sent events) answers run beside short requests.
            "--worker-class",
            "gthread",
            "--threads",
            str(options["threads"]),
            "--timeout",
            "120",
            "--graceful-timeout",
            str(int(options["grace"])),
            # No gunicorn access log: its lines carry raw paths, and channel webhook paths
            # carry the channel's secret. Each request is counted and timed by route in
            # /metrics, and the app's own log lines carry the request id.
        ]
        cluster_cmd = [sys.executable, "manage.py", "qcluster"]
        # Follow-ups due now are claimed within FOLLOWUP_DISPATCH_INTERVAL, not once a minute.
        dispatcher_cmd = [sys.executable, "manage.py", "followups_dispatch", "--forever"]
        children: dict[str, subprocess.Popen] = {}

        def on_signal(signum, frame):
            self._stopping = True
            self._signal = signum

        for signum in STOP_SIGNALS:
            signal.signal(signum, on_signal)
        try:
            children["web"] = self._spawn(web_cmd)
            children["cluster"] = self._spawn(cluster_cmd)
            children["dispatcher"] = self._spawn(dispatcher_cmd)
            self.stdout.write(
                f"Serving on http://{options['host']}:{options['port']} (web pid {children['web'].pid}, "
                f"cluster pid {children['cluster'].pid}); Ctrl-C stops both."
            )
            failed = None
            while not self._stopping:
                for name, proc in children.items():
                    if proc.poll() is not None:
                        failed = (name, proc.returncode)
                        break
                if failed:
                    break
                time.sleep(0.2)
        finally:
            self._stop_all(children, options["grace"])
        if failed:
            raise CommandError(f"The {failed[0]} process exited with status {failed[1]}; stopped the other.")
        self.stdout.write("Stopped web server and task cluster.")

    def _spawn(self, cmd: list[str]) -> subprocess.Popen:
        # Own process group: the terminal's Ctrl-C reaches only this command, which then
        # stops each child in order instead of all of them racing.
        return subprocess.Popen(
            cmd, cwd=BASE_DIR, env=dict(os.environ), start_new_session=True, preexec_fn=_stop_with_parent()
        )

    def _stop_all(self, children: dict[str, subprocess.Popen], grace: float) -> None:
        for proc in children.values():
            if proc.poll() is None:
                # Only the leader: gunicorn's master and qcluster's main process each stop
                # their own workers in order (a signal to the whole group makes django-q2's
                # sentinel and workers race and hang until SIGKILL).
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for name, proc in children.items():
            if not _wait(proc, deadline, repeat=signal.SIGTERM if name == "cluster" else None):
                self.stderr.write(f"The {name} process did not stop within {grace:g} s; killing it.")
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=5)
            # Leftovers of the group (qcluster's worker processes) go too.
            _signal_group(proc, signal.SIGKILL)


def _stop_with_parent():
    """A ``preexec_fn`` asking the kernel to SIGTERM the child when this process dies
    (Linux's ``PR_SET_PDEATHSIG``), or ``None`` where there is no such call. It runs in
    the forked child before exec and survives the exec of gunicorn or qcluster."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def _clear_metrics(directory: Path) -> None:
    """Start the metrics from zero: the files left by the previous run's processes would
    otherwise be added to this run's (prometheus-client's multiprocess mode)."""
    directory.mkdir(parents=True, exist_ok=True)
    for leftover in directory.glob("*.db"):
        leftover.unlink(missing_ok=True)


def _wait(proc: subprocess.Popen, deadline: float, repeat: int | None) -> bool:
    """Wait for ``proc`` to exit by ``deadline``, sending ``repeat`` again every second.

    qcluster drops a SIGTERM that arrives while it is forking its sentinel process
    (django-q2's handler asks whether the sentinel is alive before it has a process handle
    and, told no, does nothing), so a stop requested as the cluster starts would otherwise
    wait for the SIGKILL. A repeated SIGTERM to a cluster already stopping changes nothing."""
    while True:
        remaining = deadline - time.monotonic()
        try:
            proc.wait(timeout=max(0.1, min(1.0, remaining) if repeat else remaining))
            return True
        except subprocess.TimeoutExpired:
            if remaining <= 1.0:
                return False
            if repeat and proc.poll() is None:
                proc.send_signal(repeat)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
