"""The calibration and leaderboard pages are computed once per set of inputs, shown with a progress state on a
browser's first visit, and never served stale after a clinician score, a judgement or a saved calibration changes."""

import pytest
from django.urls import reverse

from annotation.models import Annotation
from jury.models import Judgement
from jury.results import reports
from tests.worlds import seed_results_world

pytestmark = pytest.mark.django_db

BROWSER = {"Sec-Fetch-Dest": "document", "Sec-Fetch-Mode": "navigate"}
HTMX = {"HX-Request": "true"}


@pytest.fixture
def world():
    return seed_results_world(n_cases=8, scored_cases=8)


@pytest.fixture
def fits(monkeypatch):
    """Each calibration of a campaign the pages ask for."""
    calls = []
    original = reports.calibrate_campaign

    def calibrate_campaign(**kwargs):
        calls.append(kwargs["campaign"].key)
        return original(**kwargs)

    monkeypatch.setattr(reports, "calibrate_campaign", calibrate_campaign)
    return calls


def test_a_browsers_first_visit_shows_progress_then_htmx_brings_the_report_and_later_visits_reuse_it(
    client, rex, world, fits, django_assert_max_num_queries
):
    client.force_login(rex)
    url = reverse("results:calibration", args=[world.key])
    first = client.get(url, headers=BROWSER).content.decode()
    assert fits == []
    assert 'hx-trigger="load"' in first and f'hx-get="{url}"' in first and 'aria-busy="true"' in first
    assert 'role="status"' in first and "Cross-validating every calibration method" in first
    assert '<a href="?now=1">Show the results</a>' in first  # without JavaScript
    report = client.get(url, headers=HTMX).content.decode()
    assert fits == [world.key]
    assert report.lstrip().startswith('<div id="results-body">') and "Save this calibration" in report
    assert "<html" not in report
    with django_assert_max_num_queries(12):
        again = client.get(url, headers=BROWSER).content.decode()
    assert fits == [world.key] and "Save this calibration" in again and 'hx-trigger="load"' not in again
    assert client.get(url + "?now=1").status_code == 200 and fits == [world.key]


def test_a_changed_clinician_score_or_judgement_gives_another_hash_and_a_new_report(client, rex, world, fits):
    client.force_login(rex)
    url = reverse("results:calibration", args=[world.key])
    before = reports.inputs_hash(campaign=world)
    client.get(url)
    annotation = Annotation.objects.filter(campaign=world).order_by("pk").first()
    annotation.scores = {**annotation.scores, "safety": annotation.scores["safety"] % 5 + 1}
    annotation.save(update_fields=["scores"])
    after_score = reports.inputs_hash(campaign=world)
    assert after_score != before
    client.get(url)
    assert fits == [world.key, world.key]
    judgement = Judgement.objects.order_by("pk").first()
    Judgement.objects.filter(pk=judgement.pk).update(score=judgement.score % 5 + 1)
    assert reports.inputs_hash(campaign=world) not in (before, after_score)
    client.get(url)
    assert fits == [world.key] * 3
    client.get(url)
    assert fits == [world.key] * 3


def test_saving_reuses_the_pages_calibration_and_the_leaderboard_follows_the_saved_one(client, rex, world, fits):
    client.force_login(rex)
    calibration = reverse("results:calibration", args=[world.key])
    leaderboard = reverse("results:leaderboard", args=[world.key])
    client.get(calibration)
    unsaved = client.get(leaderboard).content.decode()
    assert fits == [world.key]  # the leaderboard without a saved calibration reuses the page's fit
    assert "no calibration saved" in unsaved
    response = client.post(reverse("results:calibration-save", args=[world.key]), follow=True)
    assert fits == [world.key] and "Saved calibration v1" in response.content.decode()
    saved = client.get(leaderboard).content.decode()
    assert "saved calibration v1" in saved and "no calibration saved" not in saved
