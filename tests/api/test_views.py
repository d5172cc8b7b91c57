"""The researchers' API: token auth, roles, cursor pagination, filters and a valid OpenAPI schema."""

import io

import pytest
import yaml
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from bundles.importer import import_bundle
from jury.results.calibration import save_calibration
from jury.results.leaderboard import publish_leaderboard
from tests.bundle_files import write_bundle

pytestmark = pytest.mark.django_db


@pytest.fixture
def imported(tmp_path):
    return import_bundle(path=write_bundle(tmp_path / "bundle"))


@pytest.fixture
def api(rex):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=rex).key}")
    return client


def test_a_researcher_token_reads_cases_and_conversations(api, imported):
    cases = api.get("/api/cases/").json()
    assert [c["id"] for c in cases["results"]] == ["case-0001", "case-0002"]
    assert cases["results"][0]["profile"]["medications"] == ["Metformin — 500 mg twice daily"]
    conversation = api.get("/api/conversations/conv-0002-model-gpt-no_ehr/").json()
    assert conversation["family"] == "GPT" and len(conversation["turns"]) == 4
    filtered = api.get("/api/conversations/", {"family": "GPT", "condition": "full"}).json()
    assert [c["id"] for c in filtered["results"]] == ["conv-0001-model-gpt-full", "conv-0002-model-gpt-full"]


def test_a_filter_value_no_key_can_hold_matches_nothing_and_an_object_ignores_list_filters(api, imported):
    none = api.get("/api/conversations/", {"model": "gpt\x00"})
    assert none.status_code == 200 and none.json()["results"] == []
    one = api.get("/api/conversations/conv-0002-model-gpt-no_ehr/", {"model": "gpt\x00", "family": "Claude"})
    assert one.status_code == 200 and one.json()["family"] == "GPT"
    assert api.get("/api/conversations/conv%00/").status_code == 404


def test_pages_are_cursor_paginated(api, imported):
    first = api.get("/api/conversations/", {"page_size": 5}).json()
    assert len(first["results"]) == 5 and "cursor=" in first["next"]
    second = api.get(first["next"]).json()
    assert {c["id"] for c in first["results"]}.isdisjoint(c["id"] for c in second["results"])


def test_annotations_and_judgements(api, imported):
    annotations = api.get("/api/annotations/").json()["results"]
    assert {a["annotator"] for a in annotations} == {"clin-a", "clin-b"}
    judgements = api.get("/api/judgements/", {"dimension": "accuracy"}).json()["results"]
    assert [(j["judge"], j["prompt"], j["score"]) for j in judgements] == [("judge-sim-1", "rubric-anchored@1", 2)]


@pytest.mark.parametrize(
    "url",
    [
        "/api/",
        "/api/cases/",
        "/api/annotations/",
        "/api/leaderboards/",
        "/api/campaigns/cal/leaderboard/",
        "/api/schema/",
        "/api/docs/",
    ],
)
def test_clinicians_outsiders_and_anonymous_users_are_refused(url, carmen, otto, imported):
    client = APIClient()
    assert client.get(url).status_code in (401, 403)
    for user in (carmen, otto):
        client.force_authenticate(user)
        assert client.get(url).status_code == 403


def test_the_openapi_schema_validates_and_lists_every_endpoint():
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = yaml.safe_load(out.getvalue())
    assert {
        "/api/cases/",
        "/api/conversations/",
        "/api/annotations/",
        "/api/judgements/",
        "/api/campaigns/{key}/agreement/",
        "/api/calibrations/",
        "/api/leaderboards/",
        "/api/leaderboards/{id}/",
        "/api/campaigns/{key}/leaderboard/",
    } <= set(schema["paths"])
    live = schema["paths"]["/api/campaigns/{key}/leaderboard/"]["get"]["responses"]
    assert {"200", "404", "409"} <= set(live)
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_the_browsable_docs_load_for_researchers(client, rex):
    client.force_login(rex)
    page = client.get("/api/docs/")
    assert page.status_code == 200 and b"<style>" not in page.content
    assert client.get("/api/docs/?script").status_code == 200


def test_the_root_links_the_api_lists_and_says_how_to_get_a_token(api, client, rex):
    links = api.get("/api/", HTTP_ACCEPT="application/json").json()

    assert set(links) >= {"cases", "conversations", "annotations", "judgements", "calibrations", "leaderboards"}
    assert all(url.startswith("http://testserver/api/") for url in links.values()), links
    client.force_login(rex)
    page = client.get("/api/", HTTP_ACCEPT="text/html").content.decode()
    assert "The research API of IMCBench Studio" in page and "default basic root view" not in page
    assert "Account page (/account/)" in page
    assert "<style" not in page and 'style="' not in page, "the strict CSP blocks inline styles"


def test_the_docs_say_how_to_get_a_token():
    out = io.StringIO()
    call_command("spectacular", stdout=out)

    description = yaml.safe_load(out.getvalue())["info"]["description"]

    assert "**Account** (`/account/`)" in description and "Authorization: Token <key>" in description


def test_the_live_leaderboard_needs_a_saved_calibration(api, scored_world):  # noqa: F811
    assert api.get("/api/campaigns/nowhere/leaderboard/").json() == {"detail": "No campaign 'nowhere'."}
    refused = api.get("/api/campaigns/cal/leaderboard/")
    assert refused.status_code == 409 and "has no saved calibration" in refused.json()["detail"]
    save_calibration(campaign=scored_world)
    board = api.get("/api/campaigns/cal/leaderboard/").json()
    assert [model["name"] for model in board["models"]] == ["Good", "Weak"]
    assert board["calibration"]["version"] == 1 and board["labels"]["simulated"] is True
    assert len(board["provenance"]["judgement_set_hash"]) == 64 and board["provenance"]["published_snapshot"] is None


def test_published_snapshots_are_listed_with_provenance_and_read_in_full(api, rex, scored_world):  # noqa: F811
    save_calibration(campaign=scored_world)
    snapshot, _ = publish_leaderboard(campaign=scored_world, user=rex)
    [listed] = api.get("/api/leaderboards/").json()["results"]
    assert listed["content_hash"] == snapshot.content_hash and listed["campaign"] == "cal"
    assert listed["created_by"] == "rex" and "payload" not in listed
    detail = api.get(f"/api/leaderboards/{snapshot.pk}/").json()
    assert detail["payload"] == snapshot.payload and detail["calibration_version"] == 1
    assert api.get("/api/leaderboards/", {"campaign": "other"}).json()["results"] == []
    live = api.get("/api/campaigns/cal/leaderboard/").json()
    assert live["provenance"]["published_snapshot"] == snapshot.pk


def test_the_leaderboard_endpoints_carry_the_three_estimators_and_say_what_they_are(api, rex, scored_world):  # noqa: F811
    artifact, _ = save_calibration(campaign=scored_world)
    board = api.get("/api/campaigns/cal/leaderboard/").json()
    estimator = board["estimator"]
    assert (estimator["name"], estimator["version"]) == ("ppi++", 1)
    assert estimator["calibration_refit"].startswith("case bootstrap, calibration refitted per resample: ")
    assert estimator["saved_methods"] == artifact.methods and estimator["min_clinician"] == 10
    good = board["models"][0]
    assert good["name"] == "Good" and (good["n_clinician"], good["n_jury"]) == (30, 40) and good["ess_ppi"] > 0
    overall = good["estimates"]["overall"]
    for name in ("ppi", "clinicians", "jury"):
        assert overall[name]["ci"][0] < overall[name]["value"] < overall[name]["ci"][1], name
    assert set(overall) >= {"transport", "transport_flag", "ess_ppi", "ess_clinicians", "rank", "rank_interval"}
    assert overall["lam"] is None and good["estimates"]["safety"]["lam"] is not None
    assert "clinician_set_hash" in board["provenance"]
    ablations = board["inference"]["ablations"]
    assert "problem" in ablations  # only the full condition was judged
    snapshot, _ = publish_leaderboard(campaign=scored_world, user=rex)
    [listed] = api.get("/api/leaderboards/").json()["results"]
    assert listed["estimator"] == estimator
    detail = api.get(f"/api/leaderboards/{snapshot.pk}/").json()
    assert detail["payload"]["estimator"] == estimator
    assert detail["payload"]["models"][0]["estimates"] == good["estimates"]
    # A snapshot published before the prediction-powered estimates still says what it was.
    payload = {k: v for k, v in snapshot.payload.items() if k not in ("estimator", "inference")}
    type(snapshot).objects.filter(pk=snapshot.pk).update(payload=payload)
    [old] = api.get("/api/leaderboards/").json()["results"]
    assert old["estimator"] == {"name": "jury only", "note": "jury only (recorded before prediction-powered estimates)"}
