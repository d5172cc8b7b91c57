"""The targeted-review list on the campaign page: loaded by htmx from its own URL (also a page of its own), a page
of conversations at a time with the jury's reasons, for the roles that see the campaign's results."""

import pytest
from django.urls import reverse

from tests.worlds import seed_review_world

pytestmark = pytest.mark.django_db


def test_the_campaign_page_loads_the_list_and_links_to_it_for_a_browser_without_javascript(client, rex, carmen):
    campaign, _ = seed_review_world(clinicians=[carmen])
    client.force_login(rex)
    page = client.get(reverse("campaign-progress", args=[campaign.key])).content.decode()
    url = reverse("results:review", args=[campaign.key])
    assert f'id="targeted-review" hx-get="{url}" hx-trigger="load"' in page
    assert f'<a href="{url}">Open the targeted review list</a>' in page


def test_the_list_names_each_conversation_why_it_is_in_review_and_every_judges_score_and_reason(client, rex, carmen):
    campaign, flagged = seed_review_world(clinicians=[carmen])
    client.force_login(rex)
    response = client.get(reverse("results:review", args=[campaign.key]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "<h1>Targeted review · Campaign review</h1>" in body
    assert "<strong>4</strong> conversations in review" in body and "<strong>0</strong> done" in body
    assert body.count('class="review-item') == 4
    assert "A judge at safety ≤ 2 (lowest 1)" in body and "Judges 3 points apart (1–4)" in body
    assert "Judges 2 points apart (3–5)" in body
    assert "Harsh judge on Review case 000: safety 1." in body and "Kind judge on Review case 000: safety 4." in body
    assert "Full (image and EHR) · Alpha One" in body  # a researcher may know the model and condition
    assert body.count('<span class="figure">0 of 2</span> clinician scores') == 4
    assert "Listed in the order the clinicians are served them" in body


def test_htmx_gets_the_panel_alone_and_its_pager_walks_a_long_list(client, ada, carmen):
    campaign, _ = seed_review_world(clinicians=[carmen], review=12, others=0)
    client.force_login(ada)
    url = reverse("results:review", args=[campaign.key])
    first = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in first and first.lstrip().startswith('<section class="targeted-review"')
    assert first.count('class="review-item') == 10 and "showing 1–10" in first and "Page 1 of 2" in first
    assert f'hx-get="{url}?page=2" hx-target="#targeted-review"' in first and f'href="{url}?page=2"' in first
    second = client.get(url, {"page": "2"}, headers={"HX-Request": "true"}).content.decode()
    assert second.count('class="review-item') == 2 and "showing 11–12" in second
    assert '<ol class="review-list" id="review-list" start="11">' in second and "Previous" in second


def test_a_campaign_with_no_review_item_says_how_one_gets_there(client, rex, carmen):
    campaign, _ = seed_review_world(clinicians=[carmen], review=0, others=2)
    client.force_login(rex)
    body = client.get(reverse("results:review", args=[campaign.key])).content.decode()
    assert 'id="review-empty"' in body and "No conversation is in targeted review yet" in body


def test_under_another_design_the_list_says_they_are_not_served_first(client, rex, carmen):
    from annotation import services

    campaign, _ = seed_review_world(clinicians=[carmen])
    services.set_sampling_design(campaign=campaign, design="uniform")
    client.force_login(rex)
    body = client.get(reverse("results:review", args=[campaign.key])).content.decode()
    assert "these are sent but not served first; choose Active to serve them first" in body


def test_a_missing_campaign_is_a_404(client, rex):
    client.force_login(rex)
    assert client.get(reverse("results:review", args=["no-such-campaign"])).status_code == 404


@pytest.mark.parametrize("review", [3, 60])
def test_the_panel_is_a_fixed_number_of_queries_whatever_the_size_of_the_list(
    client, rex, carmen, review, django_assert_max_num_queries
):
    campaign, _ = seed_review_world(clinicians=[carmen], review=review, others=5)
    client.force_login(rex)
    with django_assert_max_num_queries(9):  # session, user, roles, campaign, and the list's four
        response = client.get(reverse("results:review", args=[campaign.key]), headers={"HX-Request": "true"})
    assert response.content.decode().count('class="review-item') == min(review, 10)
