"""A campaign too thin to calibrate says what is missing and what to do, in words, and offers no dead link."""

import re

import pytest
from django.core.cache import cache
from django.urls import reverse

from annotation.models import Annotation
from tests.worlds import campaign_with_clinician_scores, seed_results_world

pytestmark = pytest.mark.django_db

INTERNAL = ("fold 0", "n_folds", "leaves fewer than two", "methods: )", "methods:  .", "Traceback")


@pytest.fixture
def thin():
    """The jury has scored every conversation, but clinicians scored only the four of one case."""
    cache.clear()
    return seed_results_world(n_cases=6, scored_cases=1)


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_calibration_and_leaderboard_say_how_few_clinician_scores_there_are(client, rex, thin):
    client.force_login(rex)
    expected = (
        f"Only 4 conversations in 1 case have clinician scores; calibration needs at least 10 across 5 cases. "
        f"Ask clinicians to score more in campaign “{thin.name}”."
    )
    for name in ("results:calibration", "results:leaderboard"):
        response = client.get(reverse(name, args=[thin.key]))
        assert response.status_code == 200
        text = text_of(response)
        assert expected in text, name
        assert "Run the jury" not in text and "Jury runs" not in text, "the jury has scored them all"
        for internal in INTERNAL:
            assert internal not in text, (name, internal)
    assert "methods:" not in text_of(client.get(reverse("results:leaderboard", args=[thin.key])))


def test_enough_clinician_scores_but_no_jury_scores_points_to_the_jury(client, rex):
    campaign = campaign_with_clinician_scores(key="unjudged", cases=5, conversations_per_case=2)
    client.force_login(rex)
    text = text_of(client.get(reverse("results:calibration", args=[campaign.key])))
    assert (
        "The jury has scored 0 of the 10 clinician-scored conversations of campaign “Campaign unjudged” (0 cases)"
        in text
    )
    assert "Start a jury run over the campaign’s conversations on the Jury page." in text and "Jury runs" in text


def test_the_exports_page_offers_no_score_link_for_a_thin_campaign_and_says_why(client, rex, thin):
    ready = campaign_with_clinician_scores(key="empty", cases=0)
    client.force_login(rex)
    page = client.get(reverse("exports:page"))
    html = page.content.decode()
    assert f"?campaign={thin.key}" not in html and "?campaign=empty" not in html
    scores_row = html.split('<th scope="row">Calibrated scores', 1)[1].split("</tr>", 1)[0]
    assert "<option" not in scores_row and "no campaign can calibrate the jury yet" in scores_row
    unready = text_of(page).split("Calibrated scores are not yet available for:")[1]
    assert f"{thin.name}: Only 4 conversations in 1 case have clinician scores" in unready
    assert f"{ready.name}: Campaign “{ready.name}” has no submitted clinician annotations" in unready
    refused = client.get(reverse("exports:download", args=["scores", "csv"]), {"campaign": thin.key})
    assert refused.status_code == 400 and b"n_folds" not in refused.content
    assert b"calibration needs at least 10 across 5 cases" in refused.content


@pytest.mark.parametrize("n_scored", [0, 1, 2])
def test_a_campaign_with_0_1_or_2_scored_conversations_says_what_is_missing_with_no_dead_link(client, rex, n_scored):
    """The jury has scored everything; two clinicians scored ``n_scored`` conversations of one case."""
    campaign = scored_only(n_scored)
    client.force_login(rex)
    pages = {
        name: client.get(reverse(name, args=[campaign.key]))
        for name in ("results:calibration", "results:leaderboard", "agreement:campaign")
    }
    pages["exports:page"] = client.get(reverse("exports:page"))
    for name, response in pages.items():
        assert response.status_code == 200, name
        text = text_of(response)
        for internal in (*INTERNAL, "None", "nan"):
            assert not re.search(rf"\b{re.escape(internal)}\b", text), (name, internal)
        assert ">undefined<" not in response.content.decode(), name  # a bare label, its reason elsewhere
        for href in set(re.findall(r'href="(/[^"#]*)"', response.content.decode())):
            if "/static/" not in href and "logout" not in href:
                assert client.get(href).status_code == 200, (name, href)
    calibration = text_of(pages["results:calibration"])
    if n_scored == 0:
        assert f"Campaign “{campaign.name}” has no submitted clinician annotations" in calibration
        assert f"No clinician has submitted a score in campaign “{campaign.name}” yet" in text_of(
            pages["agreement:campaign"]
        )
    else:
        has = "conversations in 1 case have" if n_scored > 1 else "conversation in 1 case has"
        assert f"Only {n_scored} {has} clinician scores" in calibration
        assert "Ask clinicians to score more" in calibration
        agreement = text_of(pages["agreement:campaign"])
        thin = "Agreement compares clinicians who scored the same conversations: 1 conversation is scored"
        assert (thin in agreement) == (n_scored == 1)  # with two, α and κ exist
        assert "not defined:" in agreement
    assert "Save this calibration" not in calibration


def scored_only(n: int):
    """The results world of four cases with the clinicians' scores of all but ``n`` conversations removed."""
    campaign = seed_results_world(n_cases=4, scored_cases=1)
    kept = sorted(set(Annotation.objects.filter(campaign=campaign).values_list("conversation_id", flat=True)))[:n]
    Annotation.objects.filter(campaign=campaign).exclude(conversation_id__in=kept).delete()
    return campaign


def test_a_campaign_that_calibrates_but_has_too_few_scores_per_model_says_so_instead_of_empty_figures(client, rex):
    """Five cases scored: enough to calibrate, five clinician-scored conversations per model, fewer than ten."""
    campaign = seed_results_world(n_cases=6, scored_cases=5)
    client.force_login(rex)
    response = client.get(reverse("results:leaderboard", args=[campaign.key]))
    html, text = response.content.decode(), text_of(response)
    assert "No model has the 10 clinician-scored conversations a PPI or clinicians-only estimate needs yet" in text
    assert "has 20 under the full condition across 4 models" in text
    assert 'id="forest-models-figure"' not in html and "no estimate to draw" not in text
    assert 'id="subgroup-heatmap-figure"' not in html and 'id="ablation-figure"' not in html
    assert "No ablation difference can be estimated yet" in text
    assert "jury only" in text and re.search(r"\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]", text)  # the jury-only means


def test_the_agreement_page_of_a_campaign_nobody_scored_is_one_sentence_not_empty_tables(client, rex):
    campaign = scored_only(0)
    client.force_login(rex)
    html = client.get(reverse("agreement:campaign", args=[campaign.key])).content.decode()
    assert f"No clinician has submitted a score in campaign “{campaign.name}” yet" in html
    assert 'class="dimension card"' not in html and "agreement:plot" not in html and "/plots/" not in html
