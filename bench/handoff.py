"""Handoff latency as staff feel it, with a real qcluster and a Telegram-shaped fake:

- *ask → inbox*: a customer's Telegram message asking for a person is posted to the
  inbound webhook; the clock stops when the inbox's JSON endpoint (polled every 50 ms,
  as a logged-in agent) lists the conversation as *needs human*;
- *reply → channel*: an agent's reply is posted from the conversation page; the clock
  stops when the fake Telegram server receives it.

Runs on a fresh throw-away database (Django's test-database machinery), never on
development data. Prints a table (p50 / p95 / max in seconds).

    .venv/bin/python bench/handoff.py [--rounds 30]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/6 \\
        Q_CLUSTER_NAME=handoff .venv/bin/python bench/handoff.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
# Running a script puts bench/ first on sys.path; import from the project root instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BASE / "bench"]
sys.path.insert(0, str(BASE))
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
from bench.common import pct  # noqa: E402  (after sys.path: the project root first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        run(args.rounds)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(rounds: int) -> None:
    """Measure ``rounds`` handoffs and replies (after one warm-up round) and print the table."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from chat.channels.services import channel_create
    from chat.channels.tests.fakes import BOT_TOKEN, TelegramAPI, dumps, telegram_update
    from chat.models import Conversation
    from siganteng.testing import LocalServer, qcluster
    from tenants.models import Membership, Tenant

    secret = "tg-secret-0123456789"
    telegram = TelegramAPI()
    arrivals: dict[str, float] = {}
    lock = threading.Lock()

    def handler(req):
        reply = telegram(req)
        body = req.json() if req.body else {}
        with lock:
            arrivals.setdefault(str(body.get("text", "")), time.perf_counter())
        return reply

    ask_times: list[float] = []
    reply_times: list[float] = []
    with LocalServer(handler) as fake:
        settings.TELEGRAM_API_BASE = fake.url
        tenant = Tenant.objects.create(
            id="bench-handoff",
            name="Bench",
            locale="id",
            working_hours={d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
        )
        user = get_user_model().objects.create_user("agent", password="pw-bench-123", is_staff=True)
        Membership.objects.create(user=user, tenant=tenant, role=Membership.AGENT)
        channel, _ = channel_create(
            tenant=tenant, kind="telegram", name="tg", secrets={"bot_token": BOT_TOKEN, "secret_token": secret}
        )
        staff = Client()
        staff.force_login(user)
        customer = Client()
        with qcluster(OUTBOUND_ALLOW_PRIVATE="true", TELEGRAM_API_BASE=fake.url):
            # Round 0 warms the cluster up (its first task waits for the workers to start): not counted.
            for i in range(rounds + 1):
                chat_id = 900000 + i
                body = dumps(
                    telegram_update(update_id=i, message_id=1, chat_id=chat_id, text="mau bicara dengan admin")
                )
                started = time.perf_counter()
                customer.post(
                    f"/channels/telegram/{channel.inbound_token}/",
                    data=body,
                    content_type="application/json",
                    headers={"X-Telegram-Bot-Api-Secret-Token": secret},
                )
                while True:
                    rows = staff.get("/admin/inbox/data").json()["conversations"]
                    if any(r["customer"] == str(chat_id) and r["state"] == "needs_human" for r in rows):
                        break
                    if time.perf_counter() - started > 30:
                        raise SystemExit(f"round {i}: the conversation never reached the inbox")
                    time.sleep(0.05)
                if i:
                    ask_times.append(time.perf_counter() - started)

                conversation = Conversation.objects.get(tenant=tenant, user_id=str(chat_id))
                text = f"Halo, ini agen untuk putaran {i}."
                started = time.perf_counter()
                staff.post(f"/admin/inbox/{conversation.pk}/act", {"action": "reply", "text": text})
                while text not in arrivals:
                    if time.perf_counter() - started > 30:
                        raise SystemExit(f"round {i}: the reply never reached the channel")
                    time.sleep(0.01)
                if i:
                    reply_times.append(arrivals[text] - started)

    broker = "redis" if settings.REDIS_URL else "orm"
    print(f"\nhandoff latency, {rounds} rounds, database {connection.vendor}, broker {broker}\n")
    print(f"| {'path':<34} | {'p50 s':>6} | {'p95 s':>6} | {'max s':>6} | {'target p95':>10} |")
    print(f"|{'-' * 36}|{'-' * 8}|{'-' * 8}|{'-' * 8}|{'-' * 12}|")
    for name, values in (
        ("customer asks → shown in the inbox", ask_times),
        ("staff reply → on the fake Telegram", reply_times),
    ):
        print(
            f"| {name:<34} | {statistics.median(values):6.2f} | {pct(values, 95):6.2f} | {max(values):6.2f} "
            f"| {'≤ 2.00':>10} |"
        )


if __name__ == "__main__":
    main()
