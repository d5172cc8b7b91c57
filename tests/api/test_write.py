"""The write API: uploads imported in the background, jury runs created and launched, calibrations saved,
snapshots published; idempotency keys; 422s naming the field; only researchers and admins may write."""

import base64
import json

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.models import AuditEvent, Conversation
from api.models import IdempotentRequest
from bundles.uploads import QUEUED
from jury.models import CalibrationArtifact, JuryRun, LeaderboardSnapshot
from jury.services import sync_prompts
from tests.bundle_files import png_bytes
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def api(rex):
    return client_for(rex)


def chat_log(tmp_path, *, bad_line: bool = False):
    image = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    line = {
        "case": "api-case",
        "model": "api-model",
        "condition": "full",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Is this rash serious?"},
                                         {"type": "image_url", "image_url": {"url": image}}]},
            {"role": "assistant", "content": "It looks like eczema; see a doctor if it spreads."},
        ],
    }  # fmt: skip
    lines = [line, {**line, "messages": [{"role": "doctor", "content": "?"}]} if bad_line else line]
    path = tmp_path / "chat.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in lines[: 2 if bad_line else 1]))
    return path


def upload(api, path, *, headers=None, **fields):
    with path.open("rb") as handle:
        return api.post("/api/imports/", {"file": handle, **fields}, format="multipart", **(headers or {}))


def test_an_upload_is_imported_in_the_background_and_its_status_url_says_how_it_ended(
    api, tmp_path, django_capture_on_commit_callbacks, eager_celery
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api, chat_log(tmp_path), format="openai-chat")

    assert response.status_code == 202 and response["Location"] == response.json()["status_url"]
    assert response.json()["state"] == "queued", "the answer comes before the import"
    state = api.get(response.json()["status_url"]).json()
    assert state["state"] == "imported" and state["done"] and state["bundle"]
    assert "created 1 models, 1 cases, 1 conversations" in state["summary"]
    assert Conversation.objects.get().model.key == "api-model"


def test_a_rejected_upload_lists_its_problems_by_line_and_changes_nothing(
    api, tmp_path, django_capture_on_commit_callbacks, eager_celery
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api, chat_log(tmp_path, bad_line=True), format="openai-chat")

    state = api.get(response.json()["status_url"]).json()
    assert state["state"] == "rejected" and not Conversation.objects.exists()
    assert state["problems"] == [
        "chat.jsonl:2: messages[0].role: 'doctor' is not one of assistant, developer, system, user "
        "(map it in the mapping's roles)"
    ]


def test_an_upload_is_refused_with_422_naming_the_field(api, tmp_path):
    response = upload(api, chat_log(tmp_path), format="bundle")
    assert response.status_code == 422 and response.json() == {"file": ["a bundle upload ends in .zip"]}
    response = upload(api, chat_log(tmp_path), format="excel")
    assert response.status_code == 422 and list(response.json()) == ["format"]
    assert api.post("/api/imports/", {}, format="multipart").json() == {"file": ["No file was submitted."]}
    assert not AuditEvent.objects.filter(action=QUEUED).exists()


def test_only_the_uploader_and_admins_see_an_import(api, tmp_path, ada):
    token = upload(api, chat_log(tmp_path), format="openai-chat").json()["id"]
    other = client_for(UserFactory(username="rex2", roles=["researcher"]))
    assert other.get(f"/api/imports/{token}/").status_code == 404
    assert client_for(ada).get(f"/api/imports/{token}/").json()["state"] == "queued"


@pytest.fixture
def jury_world(scored_world):
    sync_prompts()
    return scored_world


def run_request(**changes) -> dict:
    return {
        "name": "API run",
        "judges": ["judge-a"],
        "prompts": ["safety-anchored@1", "accuracy-anchored@1"],
        "selection": {"models": ["good"]},
    } | changes


def test_a_run_is_created_launched_and_polled(api, jury_world, django_capture_on_commit_callbacks, eager_celery):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/runs/", run_request(), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["judges"] == ["judge-a"] and body["prompts"] == ["accuracy-anchored@1", "safety-anchored@1"]
    progress = api.get(body["status_url"]).json()
    assert progress["status"] == "completed" and progress["progress"]["total"] == 40 * 2
    assert progress["progress"]["done"] == 80 and progress["progress"]["percent"] == 100


def test_a_retried_post_with_the_same_key_starts_nothing_new(api, jury_world, django_capture_on_commit_callbacks):
    headers = {"HTTP_IDEMPOTENCY_KEY": "run-7f3a"}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = api.post("/api/runs/", run_request(launch=False), format="json", **headers)
        again = api.post("/api/runs/", run_request(launch=False), format="json", **headers)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert JuryRun.objects.count() == 1 and len(callbacks) == 1, "one run, one estimate queued"

    other = api.post("/api/runs/", run_request(name="Another"), format="json", **headers)
    assert other.status_code == 422 and list(other.json()) == ["Idempotency-Key"]
    assert "different request" in other.json()["Idempotency-Key"][0] and JuryRun.objects.count() == 1


def test_a_retried_upload_with_the_same_key_queues_one_import(api, tmp_path):
    headers = {"HTTP_IDEMPOTENCY_KEY": "upload-1"}
    first = upload(api, chat_log(tmp_path), format="openai-chat", headers=headers)
    again = upload(api, chat_log(tmp_path), format="openai-chat", headers=headers)  # a new multipart boundary

    assert first.status_code == again.status_code == 202 and again.json()["id"] == first.json()["id"]
    assert AuditEvent.objects.filter(action=QUEUED).count() == 1


def test_a_refused_request_does_not_use_up_its_key(api, jury_world):
    headers = {"HTTP_IDEMPOTENCY_KEY": "k1"}
    refused = api.post("/api/runs/", run_request(judges=["nobody"]), format="json", **headers)
    assert refused.status_code == 422 and refused.json() == {"judges": ["No judge 'nobody'."]}
    assert not IdempotentRequest.objects.exists()
    assert api.post("/api/runs/", run_request(launch=False), format="json", **headers).status_code == 201


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"prompts": ["safety-anchored@9"]}, "prompts", "No prompt 'safety-anchored@9' (name it key@version)."),
        ({"selection": {"models": ["nobody"]}}, "selection", "no conversation matches the selection"),
        ({"samples": 0}, "samples", "Ensure this value is greater than or equal to 1."),
    ],
)
def test_a_run_request_is_refused_with_422_naming_the_field(api, jury_world, changes, field, message):
    response = api.post("/api/runs/", run_request(**changes), format="json")
    assert response.status_code == 422 and response.json() == {field: [message]}
    assert not JuryRun.objects.exists()


def test_a_bad_idempotency_key_is_a_422_naming_the_header(api, jury_world):
    response = api.post("/api/runs/", run_request(), format="json", HTTP_IDEMPOTENCY_KEY="has space")
    assert response.status_code == 422 and list(response.json()) == ["Idempotency-Key"]


def test_a_calibration_is_saved_once_per_inputs_and_a_snapshot_published(api, scored_world):
    first = api.post("/api/campaigns/cal/calibrations/", {}, format="json")
    again = api.post("/api/campaigns/cal/calibrations/", {}, format="json")

    assert (first.status_code, again.status_code) == (201, 200) and first.json()["id"] == again.json()["id"]
    assert CalibrationArtifact.objects.count() == 1 and first.json()["version"] == 1
    published = api.post("/api/campaigns/cal/snapshots/", format="json")
    assert published.status_code == 201 and published.json()["calibration_version"] == 1
    snapshot = api.get(published.json()["url"]).json()
    assert snapshot["payload"]["n_conversations"] == LeaderboardSnapshot.objects.get().n_conversations == 80


def test_a_campaign_that_cannot_calibrate_or_publish_is_a_422_naming_it(api, scored_world):
    from tests.worlds import campaign_with_clinician_scores

    thin = campaign_with_clinician_scores(key="thin", cases=2, conversations_per_case=1)
    response = api.post(f"/api/campaigns/{thin.key}/calibrations/", {}, format="json")
    assert response.status_code == 422 and "calibration needs at least 10" in response.json()["campaign"][0]
    response = api.post(f"/api/campaigns/{thin.key}/snapshots/", format="json")
    assert response.status_code == 422 and "has no saved calibration" in response.json()["campaign"][0]
    assert api.post("/api/campaigns/nope/snapshots/", format="json").status_code == 404


@pytest.mark.parametrize("persona", ["carmen", "adele"])
def test_clinicians_and_adjudicators_may_not_write(request, persona, scored_world, tmp_path):
    client = client_for(request.getfixturevalue(persona))
    assert upload(client, chat_log(tmp_path), format="openai-chat").status_code == 403
    assert client.post("/api/runs/", run_request(), format="json").status_code == 403
    assert client.post("/api/campaigns/cal/calibrations/", {}, format="json").status_code == 403
    assert client.post("/api/campaigns/cal/snapshots/", format="json").status_code == 403
    assert not JuryRun.objects.exists() and not CalibrationArtifact.objects.exists()
