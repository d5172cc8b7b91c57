"""Pages: who may see them, what they show, and how many queries they take."""

import pytest

from bundles.importer import import_bundle
from tests.bundle_files import write_bundle

pytestmark = pytest.mark.django_db


@pytest.fixture
def imported(tmp_path):
    return import_bundle(path=write_bundle(tmp_path / "bundle"))


@pytest.mark.parametrize("url", ["/cases/", "/cases/case-0001/", "/conversations/conv-0001-model-claude-full/"])
def test_outsiders_and_clinicians_are_refused_browsing(client, imported, otto, carmen, url):
    assert client.get(url).status_code == 302
    for user in (otto, carmen):
        client.force_login(user)
        assert client.get(url).status_code == 403


def test_case_page_shows_images_profile_and_conversations(client, imported, rex, django_assert_max_num_queries):
    client.force_login(rex)
    with django_assert_max_num_queries(8):
        response = client.get("/cases/case-0001/")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("<img ") == 2
    assert "Metformin — 500 mg twice daily" in html and "Penicillin (rash)" in html
    assert html.count("/conversations/conv-0001-") == 6


def test_case_list_answers_htmx_with_the_table_partial(client, imported, rex):
    client.force_login(rex)
    response = client.get("/cases/?q=head", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<table id="case-table"')
    assert "case-0002" in html and "case-0001" not in html


def test_admin_case_page_shows_image_profile_and_conversations(client, imported, ada):
    from annotation.models import Case

    client.force_login(ada)
    case = Case.objects.get(key="case-0002")
    response = client.get(f"/admin/annotation/case/{case.pk}/change/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="case-preview"' in html and "apixaban" in html
    assert html.count("conv-0002-") >= 6


def test_the_import_page_imports_a_zip_and_lists_problems(
    client, ada, tmp_path, django_capture_on_commit_callbacks, eager_celery
):
    from tests.bundle_files import base_records, zip_directory

    client.force_login(ada)
    good = zip_directory(write_bundle(tmp_path / "good"), tmp_path / "good.zip")
    with good.open("rb") as handle, django_capture_on_commit_callbacks(execute=True):
        response = client.post("/imports/", {"bundle": handle})
    assert response.status_code == 302, "the upload is imported in the background, not in the request"
    response = client.get(response["Location"])
    assert "Bundle &#x27;Test bundle&#x27; imported: created 2 models" in response.content.decode()

    records = base_records()
    records["cases"][0]["id"] = "case-9"
    records["conversations"][0]["condition"] = "x"
    bad = zip_directory(write_bundle(tmp_path / "bad", records), tmp_path / "bad.zip")
    with bad.open("rb") as handle, django_capture_on_commit_callbacks(execute=True):
        response = client.post("/imports/", {"bundle": handle})
    html = client.get(response["Location"]).content.decode()
    assert "nothing changed" in html
    assert "conversations.jsonl:1: condition: &#x27;x&#x27; is not one of full, no_image, no_ehr" in html


def test_the_import_page_refuses_clinicians_and_adjudicators(client, carmen, adele):
    for user in (carmen, adele):
        client.force_login(user)
        response = client.get("/imports/")
        assert response.status_code == 403 and "may not import bundles" in response.content.decode()


def test_admin_adds_campaign_conversations_by_filter(client, imported, ada, carmen):
    from annotation.models import Campaign, ModelUnderTest, Rubric

    client.force_login(ada)
    gpt = ModelUnderTest.objects.get(key="model-gpt")
    response = client.post(
        "/admin/annotation/campaign/add/",
        {
            "name": "GPT full",
            "key": "gpt-full",
            "rubric": Rubric.objects.get(is_default=True).pk,
            "instructions": "",
            "state": "open",
            "clinicians": [carmen.pk],
            "overlap": 2,
            "blinded": "on",
            "lease_minutes": 30,
            "adjudication_threshold": 2,
            "seed": 0,
            "conversations": "",
            "add_models": [gpt.pk],
            "add_conditions": ["full"],
            "add_malignant": "unknown",
            "add_rare": "unknown",
            "add_specialty": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    campaign = Campaign.objects.get(key="gpt-full")
    assert sorted(campaign.conversations.values_list("key", flat=True)) == [
        "conv-0001-model-gpt-full",
        "conv-0002-model-gpt-full",
    ]
    assert campaign.created_by == ada


def test_an_account_with_no_role_gets_no_home_page_and_no_counts(client, imported, otto, carmen):
    client.force_login(otto)
    response = client.get("/")
    assert response.status_code == 403
    assert "annotation/home.html" not in [template.name for template in response.templates]
    client.force_login(carmen)
    assert client.get("/").status_code == 200
