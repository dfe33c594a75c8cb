"""Staff by invitation: a signed, expiring, single-use link; roles; the last owner stays."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from tenants.models import AuditEntry, Invitation, Membership

pytestmark = pytest.mark.django_db


@pytest.fixture
def invite(client, django_capture_on_commit_callbacks):
    """Post the invite form; the mail goes out after commit, as in production."""

    def _invite(email="sari@acme.test", role="agent"):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("admin:tenants_membership_invite"), {"email": email, "role": role})

    return _invite


def _link() -> str:
    return re.search(r"http://testserver(/admin/staff/invitation/\S+/)", mail.outbox[-1].body).group(1)


def test_it_invites_by_email_and_the_invitee_sets_a_password(client, invite, tenant, owner):
    client.force_login(owner)
    assert invite().status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["sari@acme.test"]
    link = _link()
    client.logout()
    page = client.get(link)
    assert page.status_code == 200 and "sari@acme.test" in page.content.decode()
    r = client.post(link, {"password1": "Kopi-Susu-2026", "password2": "Kopi-Susu-2026"})
    assert r.status_code == 302
    member = Membership.objects.get(tenant=tenant, user__email="sari@acme.test")
    assert member.role == Membership.AGENT and member.user.is_staff and not member.user.is_superuser
    assert client.login(username="sari@acme.test", password="Kopi-Susu-2026")
    assert client.get(reverse("admin:index")).status_code == 200
    assert {"membership.invite", "membership.accept"} <= set(AuditEntry.objects.values_list("action", flat=True))


def test_it_refuses_a_used_or_expired_link_with_a_message_and_writes_nothing(client, invite, tenant, owner, settings):
    client.force_login(owner)
    invite()
    link = _link()
    client.logout()
    client.post(link, {"password1": "Kopi-Susu-2026", "password2": "Kopi-Susu-2026"})
    users = get_user_model().objects.count()
    again = client.post(link, {"password1": "Other-Pass-2026", "password2": "Other-Pass-2026"})
    assert again.status_code == 400 and "already used" in again.content.decode()
    assert not client.login(username="sari@acme.test", password="Other-Pass-2026")
    client.force_login(owner)
    invite(email="budi@acme.test")
    link = _link()
    client.logout()
    settings.INVITATION_MAX_AGE_SECONDS = -1
    expired = client.post(link, {"password1": "Kopi-Susu-2026", "password2": "Kopi-Susu-2026"})
    assert expired.status_code == 400 and "expired" in expired.content.decode()
    forged = client.get(link[:-3] + "xx/")
    assert forged.status_code == 400 and "not valid" in forged.content.decode()
    assert get_user_model().objects.count() == users
    assert Invitation.objects.get(email="budi@acme.test").accepted_at is None


def test_it_refuses_a_member_an_unknown_role_and_a_bad_address_on_the_page(client, invite, tenant, owner):
    client.force_login(owner)
    for email, role, says in [
        ("owner@acme.test", "agent", "already a member"),
        ("x@acme.test", "emperor", "Select a valid choice"),
        ("not-an-address", "agent", "valid email"),
    ]:
        r = invite(email=email, role=role)
        assert r.status_code == 200 and says in r.content.decode(), says
    assert Invitation.objects.count() == 0 and mail.outbox == []


def test_it_changes_roles_removes_members_and_keeps_the_last_owner(client, invite, tenant, owner):
    agent = get_user_model().objects.create_user("a@acme.test", email="a@acme.test", is_staff=True)
    agent_membership = Membership.objects.create(user=agent, tenant=tenant, role=Membership.AGENT)
    own = Membership.objects.get(user=owner)
    client.force_login(owner)
    client.post(reverse("admin:tenants_membership_change", args=[agent_membership.pk]), {"role": "owner"})
    assert Membership.objects.get(pk=agent_membership.pk).role == Membership.OWNER
    client.post(reverse("admin:tenants_membership_change", args=[agent_membership.pk]), {"role": "agent"})
    # The only owner left cannot step down nor be removed.
    r = client.post(reverse("admin:tenants_membership_change", args=[own.pk]), {"role": "agent"}, follow=True)
    assert "last owner" in r.content.decode() and Membership.objects.get(pk=own.pk).role == Membership.OWNER
    r = client.post(reverse("admin:tenants_membership_delete", args=[own.pk]), {"post": "yes"}, follow=True)
    assert "last owner" in r.content.decode() and Membership.objects.filter(pk=own.pk).exists()
    client.post(reverse("admin:tenants_membership_delete", args=[agent_membership.pk]), {"post": "yes"})
    agent.refresh_from_db()
    assert not Membership.objects.filter(pk=agent_membership.pk).exists() and not agent.is_staff
    actions = list(AuditEntry.objects.filter(tenant=tenant).values_list("action", flat=True))
    assert actions.count("membership.role") == 2 and "membership.remove" in actions


def test_it_keeps_agents_away_from_staff_management(client, invite, tenant, owner):
    agent = get_user_model().objects.create_user("a@acme.test", email="a@acme.test", is_staff=True)
    Membership.objects.create(user=agent, tenant=tenant, role=Membership.AGENT)
    client.force_login(agent)
    assert invite().status_code == 403
    assert client.get(reverse("admin:tenants_membership_changelist")).status_code == 403
    assert mail.outbox == []
