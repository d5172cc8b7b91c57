"""Forbidden, not-found and server-error pages are the app's own: its layout, what happened in words, and a way back.
With DEBUG off, as in production (Django shows its debug pages otherwise)."""

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def production(settings):
    settings.DEBUG = False


def assert_in_layout(page: str) -> None:
    assert 'class="topbar"' in page and "css/app.css" in page, "the page is in the app's layout"
    assert f'href="{reverse("home")}"' in page and "Back to the start page" in page


def test_a_forbidden_page_says_why_in_the_layout(production, client, carmen):
    client.force_login(carmen)

    response = client.get(reverse("runs:list"))

    page = response.content.decode()
    assert response.status_code == 403 and "You may not open this page" in page
    assert "Your account may not run the jury." in page and "signed in as carmen" in page
    assert_in_layout(page)


def test_a_missing_page_is_in_the_layout(production, client, rex):
    client.force_login(rex)

    response = client.get("/conversations/no-such-conversation/")

    page = response.content.decode()
    assert response.status_code == 404 and "There is nothing at this address" in page
    assert "no-such-conversation" not in page, "a 404 does not echo what was asked for"
    assert_in_layout(page)


def test_an_unknown_api_path_still_answers_json(production, client):
    response = client.get("/api/nowhere/")

    assert response.status_code == 404 and response["Content-Type"] == "application/json"


def test_a_server_error_is_in_the_layout(production, rex, monkeypatch):
    from annotation.web import pages

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(pages.selectors, "case_list", broken)
    client = Client(raise_request_exception=False)
    client.force_login(rex)

    response = client.get(reverse("case-list"))

    page = response.content.decode()
    assert response.status_code == 500 and "Something went wrong on our side" in page and "boom" not in page
    assert_in_layout(page)
