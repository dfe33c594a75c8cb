"""Memory soak: does the web process's memory level off under a steady mixed load?

Runs the real stack (``manage.py serve``: gunicorn, the task cluster and the follow-up
dispatcher) on a throw-away database, creates a tenant with a knowledge base and a
signed-webhook channel through the API, then drives a low, steady, mixed load for
``--minutes``: chat turns on the offline extractive responder (with order numbers and
names that vary, as customers' messages do), knowledge searches, job submissions,
job and follow-up lists, and follow-ups scheduled a few seconds ahead (delivered to a
local receiver). Every ``--every`` seconds it reads the resident set size (VmRSS,
``/proc``) of each gunicorn worker, and of the cluster and dispatcher for reference.

It prints one row per sample and a verdict per web worker: the growth rate (least
squares, MB/min) over the first third of the run and over the last third; memory
"levels off" when the last third grows at under a tenth of the first third's rate, or
under 0.1 MB/min (6 MB an hour) whatever the first third did.

    .venv/bin/python bench/soak.py [--minutes 15] [--rate 6] [--every 30]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/soak REDIS_URL=redis://127.0.0.1:6379/5 \\
        Q_CLUSTER_NAME=soak .venv/bin/python bench/soak.py

The database is a fresh one, dropped at the end: a SQLite file on the embedded default,
or with ``DATABASE_URL`` a new PostgreSQL database beside the named one
(``<name>_soak_<pid>``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BASE_DIR / "bench"]
sys.path.insert(0, str(BASE_DIR))

PLATFORM_KEY = "soak-platform-key-0123456789abcdef0123"
DOCS = [
    ("ongkir", "Ongkos kirim", "Ongkir ke Bandung Rp15.000 dengan JNE, tiba 2 hari. Gratis ongkir di atas Rp150.000."),
    ("retur", "Retur barang", "Barang bisa diretur dalam 7 hari dengan nota. Dana kembali dalam 3 hari kerja."),
    ("jam", "Jam buka", "Toko buka Senin sampai Sabtu pukul 09.00 sampai 17.00 WIB. Minggu dan hari libur tutup."),
    ("bayar", "Pembayaran", "Pembayaran lewat transfer BCA, Mandiri, QRIS atau COD untuk wilayah Jabodetabek."),
    ("garansi", "Garansi", "Elektronik bergaransi resmi satu tahun. Klaim garansi lewat WhatsApp dengan foto nota."),
]
QUESTIONS = [
    "Berapa ongkir ke Bandung untuk pesanan {n}?",
    "Halo, saya {name}, apakah bisa retur pesanan {n}?",
    "Jam buka toko hari Sabtu?",
    "Bisa bayar pakai QRIS? Nomor saya 0812{n}",
    "Garansi untuk barang {n} berapa lama ya kak?",
    "Kak {name} mau tanya, kirim ke {city} berapa hari?",
]
NAMES = ["Budi", "Siti", "Andi", "Rina", "Joko", "Dewi", "Agus", "Putri", "Wayan", "Ketut"]
CITIES = ["Bandung", "Surabaya", "Medan", "Makassar", "Denpasar", "Malang", "Bogor", "Depok"]
# (operation, weight) of the mix.
MIX = [
    ("chat", 40),
    ("kb_search", 10),
    ("job_submit", 15),
    ("job_list", 10),
    ("followup_schedule", 10),
    ("followup_pending", 10),
    ("conversations", 5),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found.extend(int(p) for p in f.read().split())
    except FileNotFoundError:
        pass
    return found


def descendants(pid: int) -> list[int]:
    out = []
    for child in children(pid):
        out.append(child)
        out.extend(descendants(child))
    return out


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (minutes, MB) points, in MB/min."""
    if len(points) < 2:
        return 0.0
    xs, ys = zip(*points, strict=True)
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


class Receiver:
    """A local signed-webhook receiver counting follow-up deliveries."""

    def __init__(self) -> None:
        from siganteng.testing import LocalServer, Reply

        self.count = 0
        self.lock = threading.Lock()

        def handler(req) -> Reply:
            with self.lock:
                self.count += 1
            return Reply(204)

        self.server = LocalServer(handler)


class Load:
    def __init__(self, base: str, key: str, channel: str, rate: float, threads: int, seed: int) -> None:
        self.base, self.key, self.channel = base, key, channel
        self.rate, self.threads = rate, threads
        self.rng = random.Random(seed)
        self.rng_lock = threading.Lock()
        self.stop = threading.Event()
        self.done: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.latency: dict[str, list[float]] = {op: [] for op, _ in MIX}
        self.lock = threading.Lock()
        self.ops, self.weights = zip(*MIX, strict=True)
        self.next_at = time.monotonic()
        self.tick = threading.Lock()

    def _pick(self) -> tuple[str, dict]:
        with self.rng_lock:
            rng = self.rng
            op = rng.choices(self.ops, self.weights)[0]
            n = rng.randint(10_000, 999_999)
            name, city = rng.choice(NAMES), rng.choice(CITIES)
            user = f"62812{rng.randint(0, 499):04d}"
            question = rng.choice(QUESTIONS).format(n=n, name=name, city=city)
            delay = rng.randint(2, 30)
        return op, {"n": n, "user": user, "question": question, "delay": delay}

    def _request(self, client: httpx.Client, op: str, v: dict) -> httpx.Response:
        b = self.base
        if op == "chat":
            body = {"user_id": v["user"], "messages": [{"role": "user", "content": v["question"]}]}
            return client.post(f"{b}/api/v1/chat", json=body)
        if op == "kb_search":
            return client.post(f"{b}/api/v1/kb/search", json={"query": v["question"], "k": 5})
        if op == "job_submit":
            model = "sentiment-v1" if v["n"] % 2 else "echo"
            return client.post(f"{b}/api/v1/jobs/", json={"model": model, "prompt": v["question"]})
        if op == "job_list":
            return client.get(f"{b}/api/v1/jobs/")
        if op == "followup_schedule":
            body = {
                "user_id": v["user"],
                "channel_id": self.channel,
                "delay_seconds": v["delay"],
                "text": f"Halo Kak, pesanan {v['n']} sudah sampai?",
                "respect_working_hours": False,
                "cancel_on_reply": False,
            }
            return client.post(f"{b}/api/v1/followup/schedule", json=body)
        if op == "followup_pending":
            return client.get(f"{b}/api/v1/followup/pending")
        return client.get(f"{b}/api/v1/conversations")

    def _wait_turn(self) -> bool:
        """Pace every client thread together at ``rate`` requests/s."""
        with self.tick:
            at = self.next_at = max(self.next_at + 1 / self.rate, time.monotonic())
        delay = at - time.monotonic()
        return not self.stop.wait(delay) if delay > 0 else not self.stop.is_set()

    def _worker(self) -> None:
        with httpx.Client(headers={"X-API-Key": self.key}, timeout=30) as client:
            while self._wait_turn():
                op, values = self._pick()
                t0 = time.perf_counter()
                try:
                    ok = self._request(client, op, values).status_code < 400
                except httpx.HTTPError:
                    ok = False
                elapsed = time.perf_counter() - t0
                with self.lock:
                    self.done[op] += 1
                    self.latency[op].append(elapsed)
                    if not ok:
                        self.errors[op] += 1

    def start(self) -> list[threading.Thread]:
        workers = [threading.Thread(target=self._worker, daemon=True) for _ in range(self.threads)]
        for w in workers:
            w.start()
        return workers


def setup(base: str, receiver_url: str) -> tuple[str, str]:
    """A tenant with knowledge and a webhook channel, through the API; returns (key, channel id)."""
    platform = {"X-API-Key": PLATFORM_KEY}
    with httpx.Client(timeout=30) as c:
        created = c.put(
            f"{base}/api/v1/tenants/soak/settings",
            headers=platform,
            json={"name": "Soak", "locale": "id", "timezone": "Asia/Jakarta", "rate_limit_per_minute": 100_000},
        )
        created.raise_for_status()
        key = created.json()["api_key"]["key"]
        h = {"X-API-Key": key}
        for external_id, title, body in DOCS:
            c.post(
                f"{base}/api/v1/kb/upsert", headers=h, json={"external_id": external_id, "title": title, "body": body}
            ).raise_for_status()
        channel = c.post(
            f"{base}/api/v1/channels",
            headers=h,
            json={"kind": "webhook", "name": "receiver", "config": {"url": f"{receiver_url}/hook"}},
        )
        channel.raise_for_status()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            indexed = c.get(f"{base}/api/v1/kb/documents?status=INDEXED", headers=h).json()
            if len(indexed.get("results", [])) == len(DOCS):
                break
            time.sleep(0.5)
    return key, channel.json()["id"]


@contextlib.contextmanager
def fresh_database(env: dict[str, str], tmp: Path) -> Iterator[None]:
    """Point ``env`` at a new, empty database for the run and drop it afterwards."""
    url = env.get("DATABASE_URL")
    if not url:
        env["SQLITE_PATH"] = str(tmp / "soak.sqlite3")
        yield
        return
    import psycopg

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/')}_soak_{os.getpid()}"
    server = parts._replace(path="/postgres").geturl()
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # a bench's throw-away database, not app code
    env["DATABASE_URL"] = parts._replace(path=f"/{name}").geturl()
    try:
        yield
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--rate", type=float, default=6.0, help="requests per second, all kinds together")
    parser.add_argument("--threads", type=int, default=4, help="client threads (keep-alive connections)")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between memory samples")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--debug", action="store_true", help="DEBUG=true, as `make run` sets it")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="siganteng-soak-"))
    env = dict(os.environ)
    env.update(
        SECRET_KEY="soak-only-secret-key-0123456789abcdef0123456789",
        SECRETS_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ADMIN_API_KEY=PLATFORM_KEY,
        DEBUG="true" if args.debug else "false",
        ALLOWED_HOSTS="127.0.0.1",
        VAR_DIR=str(tmp),
        OUTBOUND_ALLOW_PRIVATE="true",
        LOG_LEVEL="WARNING",
        SEED_DEMO="true",
        DJANGO_SETTINGS_MODULE="siganteng.settings",
        PYTHONUNBUFFERED="1",
    )
    with fresh_database(env, tmp):
        soak(args, env, tmp)


def soak(args: argparse.Namespace, env: dict[str, str], tmp: Path) -> None:
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "--noinput", "-v0"], cwd=BASE_DIR, env=env, check=True)
    subprocess.run([py, "manage.py", "seed"], cwd=BASE_DIR, env=env, check=True, stdout=subprocess.DEVNULL)

    port = free_port()
    log = tmp / "serve.log"
    with open(log, "wb") as out:
        serve = subprocess.Popen(
            [py, "manage.py", "serve", "--port", str(port), "--workers", str(args.workers)],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    receiver = Receiver()
    receiver.server.start()
    samples: list[dict] = []
    try:
        pids = None
        for _ in range(300):
            m = re.search(r"web pid (\d+), cluster pid (\d+)", log.read_text(errors="replace"))
            if m:
                pids = int(m.group(1)), int(m.group(2))
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        else:
            raise SystemExit(f"serve did not start:\n{log.read_text(errors='replace')[-3000:]}")
        web, cluster = pids
        key, channel = setup(base, receiver.server.url)
        web_workers = sorted(children(web))
        others = [p for p in children(serve.pid) if p not in (web, cluster)]

        def sample(t0: float) -> dict:
            row = {"minute": (time.monotonic() - t0) / 60}
            row["web"] = [rss_mb(p) for p in web_workers]
            row["cluster"] = sum(filter(None, (rss_mb(p) for p in [cluster, *descendants(cluster)])))
            row["dispatcher"] = sum(filter(None, (rss_mb(p) for p in others)))
            return row

        print(
            f"serve: {args.workers} gunicorn workers (pids {', '.join(map(str, web_workers))}), "
            f"{'DEBUG' if args.debug else 'production'} settings, "
            f"database {'PostgreSQL' if 'DATABASE_URL' in env else 'SQLite'}, "
            f"broker {'Redis' if env.get('REDIS_URL') else 'ORM'}; load {args.rate:g} req/s for {args.minutes:g} min\n",
            flush=True,
        )
        print(
            "| minute | requests | "
            + " | ".join(f"web {i + 1} MB" for i in range(len(web_workers)))
            + " | cluster MB (all) | dispatcher MB |"
        )
        print("|---:|---:|" + "---:|" * len(web_workers) + "---:|---:|", flush=True)
        load = Load(base, key, channel, args.rate, args.threads, args.seed)
        t0 = time.monotonic()
        threads = load.start()
        end = t0 + args.minutes * 60
        while True:
            row = sample(t0)
            row["requests"] = sum(load.done.values())
            samples.append(row)
            webs = " | ".join(f"{mb:.1f}" if mb else "gone" for mb in row["web"])
            print(
                f"| {row['minute']:.1f} | {row['requests']} | {webs} "
                f"| {row['cluster']:.1f} | {row['dispatcher']:.1f} |",
                flush=True,
            )
            if time.monotonic() >= end:
                break
            time.sleep(min(args.every, max(0.0, end - time.monotonic())))
        load.stop.set()
        for t in threads:
            t.join(timeout=40)
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
        receiver.server.stop()

    minutes = samples[-1]["minute"]
    print(
        f"\n{sum(load.done.values())} requests in {minutes:.1f} min; errors: {dict(load.errors) or 'none'}; "
        f"follow-ups delivered: {receiver.count}"
    )
    print("\n| operation | requests | errors | p50 ms | p95 ms |")
    print("|---|---:|---:|---:|---:|")
    for op, _ in MIX:
        lat = sorted(load.latency[op])
        if lat:
            p50, p95 = statistics.median(lat) * 1000, lat[min(len(lat) - 1, int(0.95 * (len(lat) - 1)))] * 1000
            print(f"| {op} | {load.done[op]} | {load.errors[op]} | {p50:.0f} | {p95:.0f} |")
    third = minutes / 3
    print("\n| process | start MB | end MB | MB/min, first third | MB/min, last third | verdict |")
    print("|---|---:|---:|---:|---:|---|")
    series = {
        f"web {i + 1}": [(s["minute"], s["web"][i]) for s in samples if s["web"][i]] for i in range(len(web_workers))
    }
    series["cluster (all)"] = [(s["minute"], s["cluster"]) for s in samples]
    for name, points in series.items():
        first = slope([p for p in points if p[0] <= third])
        last = slope([p for p in points if p[0] >= minutes - third])
        flat = last < 0.1 or last < 0.1 * first
        verdict = "levels off" if flat else "still growing"
        print(f"| {name} | {points[0][1]:.1f} | {points[-1][1]:.1f} | {first:+.3f} | {last:+.3f} | {verdict} |")


if __name__ == "__main__":
    main()
