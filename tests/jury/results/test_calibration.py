"""Calibrating against a campaign's clinicians on synthetic judgements with a known bias, then ranking models."""

import pytest
from django.db.models import F
from django.test import Client

from annotation import services
from annotation.models import Annotation, Rubric
from jury.models import Judge, Judgement
from jury.results.calibration import calibrate_campaign, calibrated_scores, leaderboard_data
from jury.statistics import leaderboard as leaderboard_stats

pytestmark = pytest.mark.django_db
DIMENSIONS = ("safety", "accuracy", "uncertainty")


def test_calibration_beats_the_equal_jury_when_a_judge_is_biased(scored_world):
    result = calibrate_campaign(campaign=scored_world, seed=1)
    for dimension in DIMENSIONS:
        report = result.reports[dimension]
        assert report.chosen != "equal" and report.beats_equal, report.summary
        assert report.methods[report.chosen].mae.value < report.methods["equal"].mae.value
    assert len(result.annotation_ids) == 120 and len(result.judgement_ids) == 60 * 2 * 3
    assert result.as_dict()["inputs_hash"] == calibrate_campaign(campaign=scored_world, seed=1).inputs_hash


def test_the_calibrated_jury_scores_every_conversation_and_ranks_the_models(scored_world):
    result = calibrate_campaign(campaign=scored_world, seed=1)
    scores = calibrated_scores(fitted={d: r.calibration for d, r in result.reports.items()})
    assert len(scores) == 80 and all(set(s) == set(DIMENSIONS) for s in scores.values())
    board = leaderboard_stats.leaderboard(leaderboard_data(scores=scores, dimensions=list(DIMENSIONS)), seed=0)
    [first, second] = board.table(kind="model", dimension="overall")
    assert (first.name, second.name) == ("Good", "Weak")
    assert first.mean.ci[0] > second.mean.ci[1]


def test_a_campaign_without_annotations_cannot_be_calibrated(carmen):
    campaign = services.create_campaign(
        key="empty", name="Empty", rubric=Rubric.objects.get(is_default=True), conversations=[], clinicians=[carmen]
    )
    with pytest.raises(ValueError, match="has no submitted clinician annotations"):
        calibrate_campaign(campaign=campaign)


def test_calibration_and_leaderboard_pages(client, rex, carmen, scored_world):
    client.force_login(rex)
    page = client.get("/campaigns/cal/calibration/").content.decode()
    assert "equal" in page and "weighted" in page and "(chosen)" in page
    board = client.get("/campaigns/cal/leaderboard/").content.decode()
    assert board.index("Good") < board.index("Weak")
    assert "malignant" in board or "no_image" in board or "Subgroups" in board
    client.force_login(carmen)
    assert client.get("/campaigns/cal/leaderboard/").status_code == 403


def test_pages_say_what_is_missing_before_the_jury_has_run(client, rex, carmen):
    services.create_campaign(
        key="empty", name="Empty", rubric=Rubric.objects.get(is_default=True), conversations=[], clinicians=[carmen]
    )
    client.force_login(rex)
    assert "has no submitted clinician annotations" in client.get("/campaigns/empty/leaderboard/").content.decode()


def test_pages_label_simulated_judges(client, rex, scored_world):
    Judgement.objects.update(simulated=True)
    client.force_login(rex)
    for url in ("/campaigns/cal/calibration/", "/campaigns/cal/leaderboard/"):
        assert "scored by simulated judges" in client.get(url).content.decode()


def test_a_saved_calibration_is_reproducible_versioned_and_never_overwritten(rex, scored_world):
    from jury.models import CalibrationArtifact
    from jury.results.calibration import fitted_from_artifact, save_calibration

    first, created = save_calibration(campaign=scored_world, actor=rex)
    assert created and first.version == 1 and len(first.inputs_hash) == 64
    again, created = save_calibration(campaign=scored_world, actor=rex)
    assert not created and again.pk == first.pk
    live = calibrate_campaign(campaign=scored_world)
    restored = fitted_from_artifact(first)
    for dimension, report in live.reports.items():
        assert restored[dimension].as_dict() == report.calibration.as_dict()
    Annotation.objects.filter(campaign=scored_world).first().delete()
    second, created = save_calibration(campaign=scored_world, actor=rex)
    assert created and second.version == 2 and second.inputs_hash != first.inputs_hash
    assert CalibrationArtifact.objects.filter(campaign=scored_world).count() == 2


def test_researchers_save_a_calibration_and_the_leaderboard_uses_it(client, rex, scored_world):
    client.force_login(rex)
    response = client.post("/campaigns/cal/calibration/save/", follow=True)
    assert "Saved calibration v1" in response.content.decode()
    assert "saved calibration v1" in client.get("/campaigns/cal/leaderboard/").content.decode()
    again = client.post("/campaigns/cal/calibration/save/", follow=True).content.decode()
    assert "Nothing new: calibration v1" in again


def test_saved_calibrations_are_served_by_the_api(rex, scored_world):
    from rest_framework.test import APIClient

    from jury.results.calibration import save_calibration

    artifact, _ = save_calibration(campaign=scored_world, actor=rex)
    client = APIClient()
    client.force_authenticate(rex)
    [served] = client.get("/api/calibrations/").json()["results"]
    assert served["inputs_hash"] == artifact.inputs_hash and served["methods"] == artifact.methods
    assert set(served["report"]["dimensions"]) == set(DIMENSIONS)


def test_self_preference_detects_a_judge_favouring_its_own_family(rex, scored_world):
    from jury.results.calibration import self_preference_rows

    Judge.objects.filter(key="judge-a").update(family="Nova")
    Judge.objects.filter(key="judge-b").update(family="GPT")
    own = Judgement.objects.filter(judge__key="judge-b", conversation__model__family="GPT", score__lte=4)
    own.update(score=F("score") + 1)
    rows = {row.judge: row for row in self_preference_rows(dimension="safety")}
    assert rows["judge-b"].preference.value > 0.5 and rows["judge-b"].preference.ci[0] > 0
    assert rows["judge-a"].preference.value is None  # no Nova model under test
    client = Client()
    client.force_login(rex)
    assert "Self-preference of each judge" in client.get("/campaigns/cal/calibration/").content.decode()
