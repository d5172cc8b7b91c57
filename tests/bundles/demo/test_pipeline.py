"""The whole pipeline on the demo, as the README's first command builds it: import → simulated clinician
annotations → simulated jury run → calibration → leaderboard → export."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from annotation.models import Annotation, Campaign, Conversation, ModelUnderTest, Selection
from bundles.demo.campaigns import draw_demo_workspace
from jury.models import CalibrationArtifact, Judge, Judgement, JudgePrompt, JuryRun

pytestmark = pytest.mark.django_db


def test_the_demo_runs_end_to_end_from_import_to_leaderboard(
    tmp_path, client, capsys, django_capture_on_commit_callbacks, eager_celery
):
    with django_capture_on_commit_callbacks(execute=True):  # the jury run is launched once its items are saved
        call_command("setup_demo", "--force", "--with-jury", "--bundle-dir", str(tmp_path / "demo"))
    out = capsys.readouterr().out
    assert "created 8 models, 25 cases, 600 conversations, 573 annotations" in out
    assert "Running the simulated demo jury over every conversation" in out

    # The jury: every demo judge × every prompt (three per dimension) × every conversation, all simulated.
    run = JuryRun.objects.get()
    judges, prompts = Judge.objects.filter(provider="simulated").count(), JudgePrompt.objects.count()
    assert (judges, prompts) == (4, 9)
    assert run.status == JuryRun.Status.COMPLETED
    scored = Judgement.objects.filter(run=run, status=Judgement.Status.SCORED)
    assert scored.count() == 600 * judges * prompts == run.items.count()
    assert not Judgement.objects.filter(simulated=False).exists()

    # The workspace campaign, drawn under the active design once the jury has scored it (the command draws it when
    # the run completes in-process; here the run's launch waited for the command's transaction): targeted review
    # first, listed on the campaign page with the judges' reasons.
    workspace = Campaign.objects.get(key="demo-workspace")
    assert draw_demo_workspace() > 0 and draw_demo_workspace() is None  # drawn once
    workspace.refresh_from_db()
    review = Selection.objects.filter(campaign=workspace, review=True)
    assert workspace.sampling_design == "active" and review.exists()
    assert all(s.probability == 1 for s in review)
    client.force_login(get_user_model().objects.get(username="researcher"))
    listing = client.get(reverse("results:review", args=[workspace.key])).content.decode()
    assert f"<strong>{review.count()}</strong> conversation" in listing and "[simulated] safety judged" in listing

    # The clinicians: the demo's simulated annotations, in the locked calibration campaign.
    campaign = Campaign.objects.get(key="demo-calibration")
    assert campaign.state == "locked" and "simulated clinicians" in campaign.name
    assert Annotation.objects.filter(campaign=campaign, status="submitted").count() == 573

    client.force_login(get_user_model().objects.get(username="researcher"))
    calibration_url = reverse("results:calibration", args=[campaign.key])
    page = client.get(calibration_url).content.decode()
    for method in ("equal", "best_single", "weighted", "isotonic"):
        assert method in page
    assert "simulated" in page and "synthetic" in page.lower()

    response = client.post(reverse("results:calibration-save", args=[campaign.key]))
    assert response.status_code == 302
    artifact = CalibrationArtifact.objects.get()
    assert artifact.campaign == campaign and set(artifact.methods) == {"safety", "accuracy", "uncertainty"}

    leaderboard = client.get(reverse("results:leaderboard", args=[campaign.key])).content.decode()
    for model in ModelUnderTest.objects.all():
        assert model.name in leaderboard
    for family in ("Claude", "GPT", "Nova", "Llama"):
        assert family in leaderboard

    # Calibrated scores for every conversation of every model, traced to the saved calibration.
    export = client.get(reverse("exports:download", args=["scores", "jsonl"]), {"campaign": campaign.key})
    first, *rows = [json.loads(line) for line in b"".join(export.streaming_content).decode().splitlines()]
    assert len(rows) == Conversation.objects.count() == 600
    assert first["provenance"]["calibration_version"] == artifact.version
    assert {row["conversation"] for row in rows} == set(Conversation.objects.values_list("key", flat=True))
