"""axe-core on every HTML page of the site, each opened in Chromium by a persona who may see it: no serious or
critical violation anywhere.

The pages are the site's URL names (from the resolver, as in the role × URL matrix, with the same small world), each
opened by the first persona of ``OPENED_BY`` the matrix lets in, plus the results pages of a campaign too thin to
calibrate and the error pages.
"""

import pytest
from django.urls import reverse

from tests.browser.axe import serious_violations
from tests.browser.conftest import ARTIFACTS, log_in
from tests.conftest import PASSWORD
from tests.site.conftest import world  # noqa: F401 (the fixture)
from tests.site.test_access_matrix import EXPECTED, PERSONAS, fill, url_names

OPENED_BY = ("rex", "carmen", "adele", "ada", "anonymous")
NOT_PAGES = ("json", "csv", "plot", "download", "favicon", "healthz", "media", "api:schema", "api:not-found")
# DRF renders every API endpoint with one browsable template: its root stands for all of them.
API_PAGES = ("api:api-root", "api:docs")


def pages(world) -> list[tuple[str, str, str]]:  # noqa: F811 (the fixture's value)
    """(label, persona, URL) of every HTML page."""
    found = []
    for name, params in sorted(url_names().items()):
        if any(part in name for part in NOT_PAGES) or (name.startswith("api:") and name not in API_PAGES):
            continue
        gets = EXPECTED[name][0].split()
        persona = next((p for p in OPENED_BY if gets[PERSONAS.index(p)] == "200"), None)
        if persona is not None:
            found.append((name, persona, reverse(name, kwargs=fill(name, params, world))))
    thin = world.campaign.key  # open, with one draft and no submitted score
    found += [
        (f"{name} (thin campaign)", "rex", reverse(name, args=[thin]))
        for name in ("results:calibration", "results:leaderboard", "agreement:campaign", "campaign-progress")
    ]
    found += [("error 404", "rex", "/cases/no-such-case/"), ("error 403", "rex", reverse("my-queue"))]
    return found


@pytest.mark.django_db(transaction=True)
def test_no_page_has_a_serious_or_critical_axe_violation(live_server, browser, world, adele, ada):  # noqa: F811
    failures: dict[str, list[str]] = {}
    contexts = {}
    for label, persona, url in pages(world):
        if persona not in contexts:
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            contexts[persona] = context.new_page()
            if persona != "anonymous":
                log_in(contexts[persona], live_server, persona, PASSWORD)
        page = contexts[persona]
        response = page.goto(f"{live_server.url}{url}")
        if "text/html" not in (response.headers.get("content-type") or ""):
            continue
        if not response.text().lstrip().lower().startswith("<!doctype"):
            continue  # an htmx fragment (a run's estimate), checked inside the page that shows it
        page.wait_for_load_state("networkidle")
        if found := serious_violations(page):
            failures[f"{label} ({url}, as {persona})"] = found
    for page in contexts.values():
        page.context.close()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "axe-violations.txt").write_text(
        "".join(f"{page}:\n  " + "\n  ".join(found) + "\n" for page, found in failures.items()) or "none\n"
    )
    assert not failures, "\n".join(f"{page}:\n  " + "\n  ".join(found) for page, found in failures.items())
