"""The clinician's next item is claimed only by a POST; a GET changes nothing."""

import pytest

from annotation import services
from annotation.models import Assignment, Rubric
from tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(carmen):
    return services.create_campaign(
        key="pilot",
        name="Pilot",
        rubric=Rubric.objects.get(is_default=True),
        conversations=[ConversationFactory() for _ in range(2)],
        clinicians=[carmen],
        overlap=1,
    )


def test_a_get_of_next_claims_nothing_and_offers_a_post_button(client, carmen, campaign):
    client.force_login(carmen)
    response = client.get("/work/pilot/next/")
    assert response.status_code == 200
    assert not Assignment.objects.exists()
    html = response.content.decode()
    assert '<form method="post" action="/work/pilot/next/">' in html and "csrfmiddlewaretoken" in html


def test_a_post_of_next_claims_and_opens_the_item(client, carmen, campaign):
    client.force_login(carmen)
    response = client.post("/work/pilot/next/")
    assignment = Assignment.objects.get(clinician=carmen)
    assert response.status_code == 302 and response.url == f"/work/item/{assignment.pk}/"
    assert client.post("/work/pilot/next/").url == response.url  # the live lease is handed back


def test_the_claim_needs_a_csrf_token(carmen, campaign):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(carmen)
    assert client.post("/work/pilot/next/").status_code == 403
    assert not Assignment.objects.exists()


def test_my_work_starts_and_continues_with_a_post_form(client, carmen, campaign):
    client.force_login(carmen)
    html = client.get("/work/").content.decode()
    assert '<form method="post" action="/work/pilot/next/">' in html
    assert 'href="/work/pilot/next/"' not in html
