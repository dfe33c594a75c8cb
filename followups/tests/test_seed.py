import pytest

from chat.models import Channel
from followups import seed
from followups.models import FollowUp


@pytest.mark.django_db
def test_it_seeds_the_demo_channel_and_follow_up_once(make_tenant):
    make_tenant("demo")
    seed.run()
    seed.run()
    assert Channel.objects.get().enabled is False
    assert FollowUp.objects.get().status == "SCHEDULED"


def test_it_reports_inconsistent_dispatch_settings(settings):
    from followups.checks import check_followup_settings

    assert check_followup_settings(None) == []
    settings.FOLLOWUP_DISPATCH_LOOP_SECONDS = 90
    settings.FOLLOWUP_LEASE_SECONDS = 10
    assert {e.id for e in check_followup_settings(None)} == {"followups.E001", "followups.E002"}
