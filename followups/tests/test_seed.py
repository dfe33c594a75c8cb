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
