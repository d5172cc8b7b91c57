"""Blinding on every page: whatever a clinician or an adjudicator can open names no model, family or condition
of a blinded campaign's conversations — not in the page, a link, a file name or an API answer.

The URLs are the access matrix's (every URL of the site, with the world's objects, and the media cases), asked
with GET and POST by Carmen (clinician holding the blinded campaign's item), Chidi (clinician in it holding
nothing) and Adele (adjudicator and clinician); every text answer, whatever its status, is searched.
"""

import re

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from tests.site.test_access_matrix import fill, media_urls, url_names
from tests.worlds import seed_review_world

pytestmark = pytest.mark.django_db

BLINDED_PERSONAS = ("carmen", "chidi", "adele")


def blinded_words(campaign) -> list[re.Pattern]:
    """What the campaign's blinded roles must never read: each model's name, key and family, each condition's
    label, and each condition's key where it stands as a key does (after a separator, as in a URL, a file name or
    JSON), so that the English word "full" in a sentence is not taken for the condition."""
    conversations = list(campaign.conversations.select_related("model"))
    assert conversations, "the blinded campaign needs conversations"
    literal = set()
    for conversation in conversations:
        literal |= {conversation.model.name, conversation.model.key, conversation.model.family, conversation.key}
        literal.add(conversation.get_condition_display())
    patterns = [re.compile(rf"(?<![A-Za-z0-9]){re.escape(word)}(?![A-Za-z0-9])", re.IGNORECASE) for word in literal]
    keys = {conversation.condition for conversation in conversations}
    patterns += [re.compile(rf"[-_/\"'=:.]{re.escape(key)}(?![A-Za-z0-9])") for key in keys]
    return patterns


def test_no_blinded_role_reaches_a_blinded_campaigns_models_families_or_conditions(world, carmen, chidi, adele):
    assert world.campaign.blinded
    patterns = blinded_words(world.campaign)
    users = {"carmen": carmen, "chidi": chidi, "adele": adele}
    urls = {name: reverse(name, kwargs=fill(name, params, world)) for name, params in url_names().items()}
    urls |= media_urls(world)
    leaks, answered = [], 0
    for persona in BLINDED_PERSONAS:
        client = Client()
        client.force_login(users[persona])
        for name, url in sorted(urls.items()):
            for method in ("get", "post"):
                with transaction.atomic():
                    response = getattr(client, method)(url)
                    transaction.set_rollback(True)
                kind = response.get("Content-Type", "")
                if response.streaming or not kind.startswith(("text/", "application/json")):
                    continue
                answered += response.status_code == 200
                headers = response.get("Location", "") + response.get("Content-Disposition", "")
                body = response.content.decode() + headers
                found = sorted({match.group(0) for pattern in patterns for match in pattern.finditer(body)})
                if found:
                    leaks.append(f"{persona} {method.upper()} {name} ({url}) {response.status_code}: {found}")
    assert answered >= 10, f"only {answered} pages answered the blinded personas: the matrix tests too little"
    assert not leaks, "\n".join(leaks)


def test_the_targeted_review_list_names_models_and_conditions_to_researchers_and_admins_only(
    carmen, chidi, adele, rex, ada
):
    """A blinded campaign with conversations in targeted review (the jury's reasons naming nothing blinded): the
    list and the campaign page that loads it answer its clinicians and adjudicator 403 with none of its models,
    families or conditions, plain or through htmx, while researchers and admins read them there."""
    campaign, _ = seed_review_world(clinicians=[carmen, chidi, adele])
    assert campaign.blinded
    patterns = blinded_words(campaign)
    urls = [reverse("results:review", args=[campaign.key]), reverse("campaign-progress", args=[campaign.key])]
    for user in (carmen, chidi, adele, rex, ada):
        client = Client()
        client.force_login(user)
        for url in urls:
            for headers in ({}, {"HX-Request": "true"}):
                response = client.get(url, headers=headers)
                body = response.content.decode()
                found = sorted({match.group(0) for pattern in patterns for match in pattern.finditer(body)})
                if user in (rex, ada):
                    assert response.status_code == 200
                    if url == urls[0]:
                        for text in ("Alpha One", "Full (image and EHR)", "Harsh judge on Review case 000: safety 1."):
                            assert text in body, f"{user} should read {text!r} in {url}"
                else:
                    assert (response.status_code, found) == (403, []), f"{user} {url} {headers}"
