"""Signed-in pages and API answers are never stored by a browser or proxy; media images are cacheable privately."""

import pytest
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/", "/cases/", "/campaigns/", "/exports/", "/api/cases/", "/api/"])
def test_signed_in_html_and_api_answers_are_private_and_not_stored(client, rex, url):
    client.force_login(rex)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"


def test_api_answers_to_a_token_are_private_and_not_stored(client, rex):
    token = Token.objects.create(user=rex)
    response = client.get("/api/cases/", headers={"Authorization": f"Token {token.key}"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"


def test_refusals_to_signed_in_users_are_not_stored_either(client, otto):
    client.force_login(otto)
    response = client.get("/cases/")
    assert response.status_code == 403 and response["Cache-Control"] == "private, no-store"


def test_media_images_stay_cacheable_privately_and_exports_are_not_stored(client, world, carmen, rex):
    client.force_login(carmen)
    response = client.get(world.image.derivative.url)
    assert response.status_code == 200 and response["Cache-Control"] == "private, max-age=3600"
    client.force_login(rex)
    response = client.get(f"/media/{world.export_job.file.name}")
    assert response.status_code == 200 and response["Cache-Control"] == "private, no-store"
