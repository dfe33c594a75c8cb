"""The conversation export from the back-office, in headless Chromium against a live
server and a real task cluster: an owner picks a range and a format on the analytics
page, the job runs in the cluster, the page shows its progress and then the download
link, and the file holds that tenant's conversations only. Agents see no export and
cannot start or read one; another tenant's owner gets a 404."""

from __future__ import annotations

import datetime as dt
import json
import os

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from chat import services
from chat.feedback import feedback_record
from jobs.models import Job
from jobs.seed import load_catalog
from siganteng.testing import chromium, qcluster, screenshot
from tenants.models import AuditEntry, Membership

PASSWORD = "pw-export-0123456789"


def member(tenant, username: str, role: str):
    user = get_user_model().objects.create_user(username, password=PASSWORD, is_staff=True)
    Membership.objects.create(user=user, tenant=tenant, role=role)
    return user


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_an_owner_exports_from_the_analytics_page_and_downloads_the_file(
    live_server, tmp_path, tenant, other_tenant, kb
):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    load_catalog()
    kb(tenant)
    first = services.reply(tenant=tenant, user_id="6281111", channel="telegram", text="How long is shipping to Bali?")
    feedback_record(tenant=tenant, message=first.message, value="down", comment="too slow", source="telegram")
    services.reply(tenant=tenant, user_id="6282222", channel="api", text="Do you accept returns?")
    services.reply(tenant=other_tenant, user_id="globex-1", channel="api", text="Globex secret question")
    member(tenant, "owner-ani", Membership.OWNER)
    today = timezone.now().astimezone(dt.UTC).date()

    with qcluster(), chromium(tmp_path) as browser:
        wait = WebDriverWait(
            browser, 60, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)
        )
        browser.get(f"{live_server.url}/admin/login/?next=/admin/analytics/")
        browser.find_element(By.NAME, "username").send_keys("owner-ani")
        browser.find_element(By.NAME, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        form = wait.until(lambda d: d.find_element(By.ID, "export-form"))
        # The range defaults to the page's (the last 30 days); the owner picks JSON lines.
        assert form.find_element(By.NAME, "end").get_attribute("value") == today.isoformat()
        Select(form.find_element(By.NAME, "format")).select_by_value("jsonl")
        form.find_element(By.ID, "export-submit").click()

        # Back on the page: the job's row, then (the cluster runs it) its link.
        row = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#exports tr[data-id]"))
        job = Job.objects.get(pk=row.get_attribute("data-id"))
        assert job.tenant == tenant and job.input_params["format"] == "jsonl"
        link = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#exports tr[data-id] a.export-download"))
        row_text = browser.find_element(By.CSS_SELECTOR, "#exports tr[data-id]").text
        assert "100 %" in row_text and "2 conversations, 4 messages" in row_text, row_text
        screenshot(browser, "analytics-export")
        url = link.get_attribute("href")

    job.refresh_from_db()
    assert job.status == "SUCCEEDED"
    assert job.worker_id.startswith("cluster:") and not job.worker_id.endswith(f":{os.getpid()}")  # by the cluster
    lines = [json.loads(line) for line in httpx.get(url, timeout=10).text.splitlines()]
    assert len(lines) == 4 and {line["customer"] for line in lines} == {"6281111", "6282222"}
    rated = next(line for line in lines if line["rating"])
    assert (rated["rating"], rated["rating_comment"]) == ("down", "too slow")
    assert not any("Globex" in line["content"] for line in lines)
    assert AuditEntry.objects.filter(tenant=tenant, action="conversations.export", actor_label="owner-ani").exists()


@pytest.mark.django_db
def test_agents_see_no_export_and_may_not_start_or_read_one(tenant, other_tenant):
    from jobs import services as jobs

    load_catalog()
    job, _ = jobs.job_submit(
        tenant=tenant, model_slug="conversation-export", input_params={"start": "2026-11-01", "end": "2026-11-30"}
    )
    body = {"start": "2026-11-01", "end": "2026-11-30", "format": "csv"}

    agent = Client()
    agent.force_login(member(tenant, "agent-budi", Membership.AGENT))
    page = agent.get("/admin/analytics/")
    assert page.status_code == 200 and b'id="export-form"' not in page.content
    assert str(job.pk) not in page.content.decode()
    assert agent.post("/admin/analytics/exports/", body).status_code == 403
    assert agent.get(f"/admin/analytics/exports/{job.pk}").status_code == 403

    owner = Client()
    owner.force_login(member(tenant, "owner-ani", Membership.OWNER))
    status = owner.get(f"/admin/analytics/exports/{job.pk}").json()
    assert (status["status"], status["download_url"]) == ("QUEUED", "")
    assert owner.post("/admin/analytics/exports/", {**body, "end": "2026-10-01"}).status_code == 302
    assert Job.objects.filter(model__slug="conversation-export").count() == 1  # the bad range started nothing

    stranger = Client()
    stranger.force_login(member(other_tenant, "owner-globex", Membership.OWNER))
    assert stranger.get(f"/admin/analytics/exports/{job.pk}").status_code == 404
    assert str(job.pk) not in stranger.get("/admin/analytics/").content.decode()
    assert stranger.post("/admin/analytics/exports/", body).status_code == 302
    assert Job.objects.filter(tenant=other_tenant).count() == 1  # their own tenant's, not acme's
