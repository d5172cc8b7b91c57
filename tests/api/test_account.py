"""The account page: a researcher makes an API token whose key is shown once, sees that it exists, and revokes it."""

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


def test_a_researcher_creates_a_token_shown_once_then_revokes_it(client, rex):
    client.force_login(rex)
    page = client.get(reverse("account"))
    assert "You hold no token" in page.content.decode()

    created = client.post(reverse("account-token-create"))
    key = Token.objects.get(user=rex).key
    assert created.status_code == 200
    assert key in created.content.decode()
    assert "shown only this once" in created.content.decode()
    assert "no-store" in created["Cache-Control"] or "no-cache" in created["Cache-Control"]

    again = client.get(reverse("account"))
    body = again.content.decode()
    assert key not in body
    assert "You hold a token, created" in body

    repeated = client.post(reverse("account-token-create"), follow=True)
    assert key not in repeated.content.decode()
    assert Token.objects.filter(user=rex).count() == 1

    api = client.__class__().get(reverse("api:api-root"), HTTP_AUTHORIZATION=f"Token {key}")
    assert api.status_code == 200

    revoked = client.post(reverse("account-token-revoke"), follow=True)
    assert not Token.objects.filter(user=rex).exists()
    assert "Token revoked" in revoked.content.decode()
    refused = client.__class__().get(reverse("api:api-root"), HTTP_AUTHORIZATION=f"Token {key}")
    assert refused.status_code == 401


def test_an_admin_may_hold_a_token(client, ada):
    client.force_login(ada)
    assert client.post(reverse("account-token-create")).status_code == 200
    assert Token.objects.filter(user=ada).exists()


@pytest.mark.parametrize("persona", ["carmen", "adele", "otto"])
def test_clinicians_adjudicators_and_outsiders_get_no_token(client, persona, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("account")).status_code == 403
    assert client.post(reverse("account-token-create")).status_code == 403
    assert not Token.objects.exists()


def test_the_navigation_leads_researchers_to_results_and_their_account(client, rex, carmen):
    client.force_login(rex)
    nav = client.get(reverse("home")).content.decode()
    assert reverse("account") in nav and reverse("campaign-list") + "#results" in nav
    client.force_login(carmen)
    assert reverse("account") not in client.get(reverse("home")).content.decode()
