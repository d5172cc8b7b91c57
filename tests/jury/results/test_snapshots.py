"""Published leaderboard snapshots: frozen payloads with provenance, never overwritten, and their pages."""

import pytest
from django.db.models import ProtectedError

from annotation.models import AuditEvent
from jury.models import CalibrationArtifact, Judgement, LeaderboardSnapshot
from jury.results.calibration import save_calibration
from jury.results.leaderboard import NoCalibration, canonical_hash, live_leaderboard, publish_leaderboard

pytestmark = pytest.mark.django_db


@pytest.fixture
def calibrated(scored_world, rex):  # noqa: F811
    save_calibration(campaign=scored_world, actor=rex)
    return scored_world


def test_publishing_freezes_the_leaderboard_with_its_provenance(calibrated, rex):
    snapshot, created = publish_leaderboard(campaign=calibrated, user=rex)
    board = snapshot.payload
    assert created and snapshot.calibration.version == 1 and snapshot.created_by == rex
    assert board["columns"] == ["overall", "safety", "accuracy", "uncertainty"]
    [good, weak] = board["models"]
    assert (good["name"], good["key"], good["family"], weak["name"]) == ("Good", "good", "Claude", "Weak")
    assert good["scores"]["overall"]["mean"]["ci"][0] > weak["scores"]["overall"]["mean"]["ci"][1]
    assert good["rank"] == 1 and good["rank_interval"] == [1.0, 1.0]
    assert set(good["scores"]) == set(board["columns"]) and good["scores"]["safety"]["n_cases"] == 40
    assert [family["name"] for family in board["families"]] == ["Claude", "GPT"]
    assert board["n_conversations"] == 80 and board["bootstrap"]["n_resamples"] == 2000
    # Every case is malignant and only the full condition was judged: those contrasts say why they are missing.
    assert "problem" in board["subgroups"]["malignant"] and "problem" in board["ablations"]
    assert board["labels"] == {"synthetic": False, "simulated": True, "notices": ["scored by simulated judges"]}
    assert snapshot.simulated and not snapshot.synthetic
    assert snapshot.content_hash == canonical_hash(board) and len(snapshot.judgement_set_hash) == 64
    assert snapshot.app_version
    assert AuditEvent.objects.filter(action="publish_leaderboard", actor=rex).count() == 1


def test_the_same_inputs_return_the_existing_snapshot_and_new_judgements_make_a_new_one(calibrated, rex, ada):
    first, _ = publish_leaderboard(campaign=calibrated, user=rex)
    again, created = publish_leaderboard(campaign=calibrated, user=ada)
    assert not created and again.pk == first.pk and again.created_by == rex
    frozen = (first.content_hash, first.payload)

    extra = Judgement.objects.filter(dimension="safety", judge__key="judge-a").first()
    extra.pk, extra.sample_index = None, 1
    extra.save()
    second, created = publish_leaderboard(campaign=calibrated, user=ada)
    assert created and second.pk != first.pk and second.judgement_set_hash != first.judgement_set_hash
    first.refresh_from_db()
    assert (first.content_hash, first.payload) == frozen
    assert LeaderboardSnapshot.objects.count() == 2


def test_the_live_leaderboard_equals_a_snapshot_of_the_same_inputs(calibrated, rex):
    before = live_leaderboard(campaign=calibrated)
    assert before["provenance"]["published_snapshot"] is None
    snapshot, _ = publish_leaderboard(campaign=calibrated, user=rex)
    live = live_leaderboard(campaign=calibrated)
    provenance = live.pop("provenance")
    assert live == snapshot.payload and provenance["content_hash"] == snapshot.content_hash
    assert provenance["published_snapshot"] == snapshot.pk and provenance["app_version"] == snapshot.app_version


def test_without_a_saved_calibration_nothing_is_published(scored_world, rex):  # noqa: F811
    with pytest.raises(NoCalibration, match="no saved calibration"):
        publish_leaderboard(campaign=scored_world, user=rex)
    with pytest.raises(NoCalibration):
        live_leaderboard(campaign=scored_world)


def test_a_published_calibration_cannot_be_deleted(calibrated, rex):
    publish_leaderboard(campaign=calibrated, user=rex)
    with pytest.raises(ProtectedError):
        CalibrationArtifact.objects.all().delete()


def test_researchers_publish_from_the_snapshot_page(client, calibrated, rex):
    client.force_login(rex)
    page = client.get("/campaigns/cal/leaderboard/snapshots/").content.decode()
    assert "Publish snapshot" in page and "Nothing published yet" in page
    response = client.post("/campaigns/cal/leaderboard/snapshots/publish/", follow=True)
    snapshot = LeaderboardSnapshot.objects.get()
    assert response.redirect_chain[-1][0] == f"/leaderboards/{snapshot.pk}/"
    detail = response.content.decode()
    assert f"Published snapshot {snapshot.pk}" in detail and "Scored by simulated judges" in detail
    assert detail.index("Good") < detail.index("Weak") and snapshot.content_hash[:12] in detail
    again = client.post("/campaigns/cal/leaderboard/snapshots/publish/", follow=True).content.decode()
    assert "Nothing new" in again and LeaderboardSnapshot.objects.count() == 1
    listing = client.get("/campaigns/cal/leaderboard/snapshots/").content.decode()
    assert f"Snapshot {snapshot.pk}" in listing and "simulated judges" in listing
    download = client.get(f"/leaderboards/{snapshot.pk}.json")
    assert download.json()["content_hash"] == snapshot.content_hash
    assert download.json()["payload"]["models"][0]["name"] == "Good"


def test_the_page_says_when_no_calibration_is_saved(client, scored_world, rex):  # noqa: F811
    client.force_login(rex)
    page = client.get("/campaigns/cal/leaderboard/snapshots/").content.decode()
    assert "No calibration of this campaign is saved yet" in page and "Publish snapshot" not in page
    published = client.post("/campaigns/cal/leaderboard/snapshots/publish/", follow=True).content.decode()
    assert "has no saved calibration" in published and not LeaderboardSnapshot.objects.exists()


def test_clinicians_and_outsiders_are_refused(client, calibrated, rex, carmen, otto):
    snapshot, _ = publish_leaderboard(campaign=calibrated, user=rex)
    urls = [
        "/campaigns/cal/leaderboard/snapshots/",
        f"/leaderboards/{snapshot.pk}/",
        f"/leaderboards/{snapshot.pk}.json",
    ]
    for user in (carmen, otto):
        client.force_login(user)
        assert [client.get(url).status_code for url in urls] == [403, 403, 403]
        assert client.post("/campaigns/cal/leaderboard/snapshots/publish/").status_code == 403
    client.logout()
    assert client.get(urls[0]).status_code == 302
    assert LeaderboardSnapshot.objects.count() == 1


def test_a_snapshot_records_its_estimator_and_a_changed_clinician_score_makes_a_new_one(client, calibrated, rex):
    from annotation.models import Annotation

    first, _ = publish_leaderboard(campaign=calibrated, user=rex)
    estimator = first.payload["estimator"]
    assert (estimator["name"], estimator["version"]) == ("ppi++", 1)
    assert estimator["calibration_refit"].startswith("case bootstrap, calibration refitted per resample: safety ")
    client.force_login(rex)
    page = client.get(f"/leaderboards/{first.pk}/").content.decode()
    for label in ("PPI (jury + clinicians)", "clinicians only", "jury only — ignores calibration error"):
        assert label in page.split('id="snapshot-models"')[1].split("</table>")[0]
    assert estimator["calibration_refit"] in page and "recorded before" not in page  # no quote to escape
    annotation = Annotation.objects.filter(status="submitted").first()
    annotation.scores = {**annotation.scores, "safety": 1 if annotation.scores["safety"] != 1 else 5}
    annotation.save()
    second, created = publish_leaderboard(campaign=calibrated, user=rex)
    assert created and second.judgement_set_hash == first.judgement_set_hash and second.pk != first.pk


def test_a_snapshot_published_before_the_prediction_powered_estimates_says_so(client, calibrated, rex):
    snapshot, _ = publish_leaderboard(campaign=calibrated, user=rex)
    old = {key: value for key, value in snapshot.payload.items() if key not in ("estimator", "inference")}
    for table in ("models", "families"):
        old[table] = [
            {k: v for k, v in row.items() if k not in ("estimates", "n_clinician", "n_jury", "ess_ppi")}
            for row in old[table]
        ]
    LeaderboardSnapshot.objects.filter(pk=snapshot.pk).update(payload=old)
    client.force_login(rex)
    page = client.get(f"/leaderboards/{snapshot.pk}/").content.decode()
    assert "jury only (recorded before prediction-powered estimates)" in page
    assert "PPI (jury + clinicians)" not in page
    models = page.split('id="snapshot-models"')[1].split("</table>")[0]
    assert models.index("Good") < models.index("Weak") and 'class="figure-value"' in models
