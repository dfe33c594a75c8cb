"""Fixtures of the tenants app's tests: the back-office's staff."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tenants.models import Membership


@pytest.fixture
def owner(tenant):
    """The owner of ``tenant``, a staff member with a password ("x")."""
    user = get_user_model().objects.create_user("owner@acme.test", email="owner@acme.test", password="x", is_staff=True)
    Membership.objects.create(user=user, tenant=tenant, role=Membership.OWNER)
    return user
