"""The campaign agreement report: what it reads, what it computes, who may see it, and its downloads and plots."""

import csv
import io
import json
import re

import numpy as np
import pytest
from django.core.cache import cache
from django.urls import reverse

from annotation.models import Annotation, Campaign
from jury.results import agreement as agreement_report
from jury.statistics import agreement
from tests.worlds import campaign_with_clinician_scores, default_rubric


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # Six personas with PBKDF2's full work factor take seconds to create; these tests never check a password.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def test_campaign_ratings_are_conversations_by_clinicians(carmen, chidi, adele):
    campaign = campaign_with_clinician_scores(clinicians=[carmen, chidi, adele], cases=2, conversations_per_case=2)
    conversation = campaign.conversations.order_by("key").first()
    Annotation.objects.filter(conversation=conversation, annotator=chidi).update(status=Annotation.Status.DRAFT)
    other = Campaign.objects.create(key="other", name="Other", rubric=campaign.rubric)
    Annotation.objects.filter(conversation=conversation, annotator=adele).update(campaign=other)

    ratings = agreement_report.campaign_ratings(campaign=campaign)

    assert ratings.clinicians == ("adele", "carmen", "chidi")
    assert len(ratings.conversations) == 4 and ratings.conversations[0] == conversation.key
    assert len(set(ratings.cases)) == 2
    assert [d.key for d in ratings.dimensions] == ["safety", "accuracy", "uncertainty"]
    safety = ratings.dimensions[0].ratings
    assert safety.shape == (4, 3)
    first = Annotation.objects.get(conversation=conversation, annotator=carmen).scores["safety"]
    assert safety[0, 1] == first
    assert np.isnan(safety[0, 0]) and np.isnan(safety[0, 2])  # moved to another campaign; a draft
    assert ratings.n_annotations == 4 * 3 - 2


def test_scores_outside_the_scale_are_left_out_and_counted(client, carmen, chidi, rex):
    campaign = campaign_with_clinician_scores(clinicians=[carmen, chidi], cases=2)
    annotation = Annotation.objects.filter(campaign=campaign).first()
    Annotation.objects.filter(pk=annotation.pk).update(scores={**annotation.scores, "safety": 7, "accuracy": True})
    ratings = agreement_report.campaign_ratings(campaign=campaign)
    assert ratings.n_invalid_scores == 2
    assert np.isnan(ratings.dimensions[0].ratings).sum() == 1
    client.force_login(rex)
    html = client.get(reverse("agreement:campaign", args=[campaign.key])).content.decode()
    assert "2 stored scores outside the 1–5 scale were left out" in html


def test_report_has_every_statistic_with_intervals(carmen, chidi, adele):
    campaign = campaign_with_clinician_scores(clinicians=[carmen, chidi, adele])
    report = agreement_report.agreement_report(campaign=campaign, n_resamples=200)

    assert report["clinicians"] == ["adele", "carmen", "chidi"]
    assert (report["n_annotations"], report["n_conversations"], report["n_cases"]) == (72, 24, 8)
    safety = report["dimensions"][0]
    assert [s["key"] for s in safety["statistics"]] == [
        "alpha_ordinal",
        "alpha_interval",
        "kappa_quadratic",
        "gwet_ac2",
        "icc_2_1",
        "icc_2_k",
        "exact",
        "within_one",
    ]
    ratings = agreement_report.campaign_ratings(campaign=campaign).dimensions[0].ratings
    alpha = agreement.krippendorff_alpha(ratings, level="ordinal", value_domain=[1, 2, 3, 4, 5])
    for figure in safety["statistics"]:
        assert figure["value"] is not None, figure
        assert figure["ci"][0] <= figure["value"] <= figure["ci"][1], figure
        assert figure["n_units"] == 24 and figure["n_raters"] == 3
        assert "200 resamples of 8 clusters" in figure["note"]
    assert safety["statistics"][0]["value"] == alpha.value
    assert len(safety["pairwise_kappa"]) == 3 and safety["pairwise_kappa"][0][0]["value"] is None
    adele_row, carmen_row, _chidi_row = safety["clinicians"]
    assert carmen_row["bias"]["value"] < 0 < adele_row["bias"]["value"]  # carmen is harsh, adele lenient
    assert sum(int(n) for n in adele_row["distribution"].values()) == adele_row["n_scored"] == 24
    assert adele_row["spearman"]["ci"] is not None and adele_row["mae"]["value"] > 0
    json.dumps(report)  # plain data all the way down


def test_undefined_figures_say_why(carmen, chidi):
    campaign = campaign_with_clinician_scores(clinicians=[carmen, chidi], constant_dimension="uncertainty", cases=3)
    report = agreement_report.agreement_report(campaign=campaign, n_resamples=50)
    uncertainty = next(d for d in report["dimensions"] if d["key"] == "uncertainty")
    figures = {f["key"]: f for f in uncertainty["statistics"]}
    assert figures["alpha_ordinal"]["value"] is None
    assert "no variation" in figures["alpha_ordinal"]["undefined_reason"]
    assert figures["icc_2_1"]["value"] is None and figures["kappa_quadratic"]["value"] is None
    assert figures["exact"]["value"] == 1  # agreement itself is perfect
    assert uncertainty["clinicians"][0]["spearman"]["value"] is None


def test_report_is_cached_until_an_annotation_changes(carmen, chidi, django_assert_max_num_queries):
    campaign = campaign_with_clinician_scores(clinicians=[carmen, chidi], cases=2)
    first = agreement_report.agreement_report(campaign=campaign, n_resamples=50)
    with django_assert_max_num_queries(1):
        assert agreement_report.agreement_report(campaign=campaign, n_resamples=50) == first
    annotation = Annotation.objects.filter(campaign=campaign).first()
    annotation.scores = {**annotation.scores, "safety": 6 - annotation.scores["safety"]}
    annotation.save()
    assert agreement_report.agreement_report(campaign=campaign, n_resamples=50) != first


def test_empty_campaign_reports_undefined_everywhere(db):
    campaign = Campaign.objects.create(key="empty", name="Empty", rubric=default_rubric())
    report = agreement_report.agreement_report(campaign=campaign, n_resamples=50)
    assert report["n_annotations"] == 0 and report["clinicians"] == []
    for dimension in report["dimensions"]:
        assert all(figure["value"] is None for figure in dimension["statistics"])
    assert agreement_report.heatmap_svg(dimension=report["dimensions"][0], clinicians=[]).startswith(b"<?xml")


# --- pages -------------------------------------------------------------------------------------------------------


@pytest.fixture
def campaign(carmen, chidi, adele):
    return campaign_with_clinician_scores(clinicians=[carmen, chidi, adele], cases=4)


@pytest.mark.parametrize("name", ["agreement:campaign", "agreement:json", "agreement:csv"])
def test_only_admins_and_researchers_see_the_report(client, campaign, name, ada, rex, carmen, adele, otto):
    url = reverse(name, args=[campaign.key])
    assert client.get(url).status_code == 302  # anonymous: to the login page
    for user, status in [(ada, 200), (rex, 200), (carmen, 403), (adele, 403), (otto, 403)]:
        client.force_login(user)
        assert client.get(url).status_code == status, user.username
    assert client.post(url).status_code == 405


def test_page_shows_every_dimension_statistic_and_plot(client, campaign, rex):
    client.force_login(rex)
    response = client.get(reverse("agreement:campaign", args=[campaign.key]))
    html = response.content.decode()
    assert "Krippendorff&#x27;s α (ordinal)" in html or "Krippendorff's α (ordinal)" in html
    assert html.count('data-statistic="') == 3 * 8
    assert html.count('class="plot"') == 6
    assert reverse("agreement:csv", args=[campaign.key]) in html
    assert "style=" not in html and "<script>" not in html
    for plot in re.findall(r'<img src="([^"]+\.svg)"', html):
        svg = client.get(plot)
        assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml"
        body = svg.content.decode()
        assert "<style" not in body and "style=" not in body  # nothing the strict CSP would block
        assert body.count("<path") > 10


def test_page_shows_an_undefined_figures_reason_in_words(client, carmen, chidi, rex):
    campaign = campaign_with_clinician_scores(clinicians=[carmen, chidi], constant_dimension="uncertainty", cases=3)
    client.force_login(rex)
    html = client.get(reverse("agreement:campaign", args=[campaign.key])).content.decode()
    reason = "no variation: every pairable rating is the same value"
    assert f'<span class="undefined">not defined:</span> {reason}</span>' in html
    assert 'title="no variation' not in html and ">undefined<" not in html


def test_json_download_is_the_report(client, campaign, rex):
    client.force_login(rex)
    response = client.get(reverse("agreement:json", args=[campaign.key]))
    assert response["Content-Disposition"] == f'attachment; filename="{campaign.key}-agreement.json"'
    report = response.json()
    assert report["campaign"]["key"] == campaign.key
    assert report["method"]["n_resamples"] == 1000 and report["method"]["confidence"] == 0.95
    assert report == json.loads(json.dumps(agreement_report.agreement_report(campaign=campaign)))


def test_csv_download_has_one_row_per_figure(client, campaign, rex):
    client.force_login(rex)
    response = client.get(reverse("agreement:csv", args=[campaign.key]))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    # per dimension: 8 statistics, 3 × 2 ordered pairs, 3 clinicians × 3 leave-one-out figures
    assert len(rows) == 3 * (8 + 6 + 9)
    alpha = next(r for r in rows if r["dimension"] == "safety" and r["statistic"] == "alpha_ordinal")
    assert float(alpha["ci_low"]) <= float(alpha["value"]) <= float(alpha["ci_high"])
    assert alpha["ci_method"] in ("bca", "percentile") and alpha["n_units"] == "12"


def test_unknown_campaign_dimension_or_plot_is_404(client, campaign, rex):
    client.force_login(rex)
    assert client.get(reverse("agreement:campaign", args=["nope"])).status_code == 404
    plot = reverse("agreement:plot", args=[campaign.key, "heatmap", "nope"])
    assert client.get(plot).status_code == 404
    assert client.get(reverse("agreement:plot", args=[campaign.key, "pie", "safety"])).status_code == 404


def test_index_lists_campaigns_with_their_report_links(client, campaign, ada, rex, carmen, otto):
    url = reverse("agreement:index")
    for user, status in [(ada, 200), (rex, 200), (carmen, 403), (otto, 403)]:
        client.force_login(user)
        assert client.get(url).status_code == status, user.username
    client.force_login(rex)
    response = client.get(url)
    row = response.context["campaigns"].get(key=campaign.key)
    assert (row.n_submitted, row.n_clinicians) == (36, 3)
    assert reverse("agreement:campaign", args=[campaign.key]) in response.content.decode()
