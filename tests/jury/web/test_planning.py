"""The planning panel: each leaderboard row's interval width now and projected for more clinician scores, and the
scores needed for a width the researcher types."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from annotation.models import Conversation
from tests.worlds import seed_results_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    """The results world with its last four cases' full conversations in the campaign, not yet scored."""
    cache.clear()
    campaign = seed_results_world()
    campaign.conversations.add(*Conversation.objects.filter(condition="full", case__key__gte="case-020"))
    return campaign


def test_the_panel_shows_every_models_width_now_and_narrower_projections(client, rex, world):
    client.force_login(rex)
    page = client.get(reverse("results:planning", args=[world.key]), {"half_width": "0.10"})
    assert page.status_code == 200
    rows = page.context["rows"]
    assert {row["name"] for row in rows} == {"Alpha One", "Alpha Two", "Beta One", "Beta Two"}
    for row in rows:
        assert row["width"] > 0
        assert row["width"] > row["projected"][0]
        assert row["projected"][0] == row["projected"][2]  # 4 conversations left: +50 already takes them all
        assert row["room"] == 4
        assert row["needed"] == "unreachable" or row["needed"] > 0
    body = page.content.decode()
    assert 'id="planning-table"' in body and "More for ±0.1" in body and "+200" in body


def test_the_htmx_request_gets_the_panel_alone_and_a_bad_target_is_a_422_naming_the_field(client, rex, world):
    client.force_login(rex)
    url = reverse("results:planning", args=[world.key])
    panel = client.get(url, headers={"HX-Request": "true"})
    assert panel.status_code == 200 and b"<html" not in panel.content and b'id="planning"' in panel.content
    bad = client.get(url, {"half_width": "wide"}, headers={"HX-Request": "true"})
    assert bad.status_code == 422 and b"half_width: &#x27;wide&#x27; is not a number" in bad.content


def test_a_model_with_nothing_left_to_score_says_so_instead_of_projecting(client, rex):
    cache.clear()
    campaign = seed_results_world()
    client.force_login(rex)
    page = client.get(reverse("results:planning", args=[campaign.key]))
    assert all(row["room"] == 0 for row in page.context["rows"])
    assert b"no conversation of this model in the campaign is left to score" in page.content
