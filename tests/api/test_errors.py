"""Errors under /api/: JSON bodies (404 and 500 too, DEBUG on or off), validated query parameters, all in the schema."""

import io

import pytest
import yaml
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.models import Campaign, Rubric
from api import views
from bundles.importer import import_bundle
from tests.bundle_files import write_bundle

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(rex):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=rex).key}")
    return client


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize(
    "url",
    [
        "/api/campaigns/not%20a%20slug!/leaderboard/",
        "/api/campaigns/%E2%96%88/agreement/",
        "/api/nothing/here/",
        "/api/cases/a.b/",
        "/api/leaderboards/-7.5/",
    ],
)
def test_any_url_under_the_api_that_names_nothing_is_a_json_404(api, settings, debug, url):
    settings.DEBUG = debug
    response = api.get(url)
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert "detail" in response.json()


def test_a_missing_slash_is_still_redirected_and_other_404s_stay_pages(api, client):
    assert api.get("/api/cases").status_code == 301
    assert client.get("/no/such/page/")["Content-Type"].startswith("text/html")


def test_a_server_error_under_the_api_is_json(rex, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("internal detail")

    monkeypatch.setattr(views, "live_leaderboard", broken)
    Campaign.objects.create(key="cal", name="Cal", rubric=Rubric.objects.get(is_default=True))
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(rex)
    response = client.get("/api/campaigns/cal/leaderboard/")
    assert response.status_code == 500 and response["Content-Type"] == "application/json"
    assert "internal detail" not in response.content.decode()


@pytest.mark.parametrize("page_size", ["null", "2.5", "0", "1001", "-1", " 5", "٥", "５", "1e2", "true", ""])
def test_a_page_size_that_is_not_a_whole_number_in_range_is_refused_naming_it(api, page_size):
    response = api.get("/api/cases/", {"page_size": page_size})
    assert response.status_code == 400
    assert response.json() == {"page_size": ["A whole number from 1 to 1000 is required."]}


def test_a_page_size_in_range_pages(api, tmp_path):
    import_bundle(path=write_bundle(tmp_path / "bundle"))
    assert len(api.get("/api/cases/", {"page_size": "1"}).json()["results"]) == 1
    assert len(api.get("/api/cases/", {"page_size": "1000"}).json()["results"]) == 2


def test_the_schema_lists_every_error_an_operation_answers():
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    paths = yaml.safe_load(out.getvalue())["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            responses = set(operation["responses"])
            assert {"401", "403"} <= responses and any(code.startswith("2") for code in responses), (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)
            if method == "post":
                assert {"400", "409", "415", "422"} <= responses, path
    assert {"400", "404"} <= set(paths["/api/cases/"]["get"]["responses"])
    page_size = next(p for p in paths["/api/cases/"]["get"]["parameters"] if p["name"] == "page_size")
    assert page_size["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}
