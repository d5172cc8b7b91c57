"""Every URL of the site × every persona × GET and POST, against one table of expected statuses.

The URLs come from the resolver, so a new view without a row here fails the test. Each request runs in a
savepoint that is rolled back, so no cell changes what the next one sees. Columns, in order: anonymous, Otto (no
role), Carmen (clinician holding the item), Chidi (clinician in the same campaign, holding nothing), Adele
(adjudicator and clinician), Rex (researcher), Ada (admin).
"""

import os

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from jury.models import CalibrationArtifact, Judgement

pytestmark = pytest.mark.django_db

PERSONAS = ("anonymous", "otto", "carmen", "chidi", "adele", "rex", "ada")

# Skipped with reason: the Django admin's own pages. AdminSite.admin_view lets only active staff in (everyone else
# is sent to its login); admin:index and admin:login below stand for all of them.
SKIPPED_NAMESPACES = {"admin"}
ADMIN_ROWS = {"admin:index", "admin:login"}

# URL name (or a media case) -> (GET statuses, POST statuses), one status per persona in PERSONAS' order.
EXPECTED = {
    #   anon otto carmen chidi adele rex ada
    "account": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    "account-token-create": ("405 405 405 405 405 405 405", "302 403 403 403 403 200 200"),  # the key shown once
    "account-token-revoke": ("405 405 405 405 405 405 405", "302 403 403 403 403 302 302"),
    "adjudicate": ("302 403 403 403 200 403 200", "302 403 403 403 422 403 422"),  # an empty decision is refused
    "adjudication-queue": ("302 403 403 403 200 403 200", "405 405 405 405 405 405 405"),
    "admin:index": ("302 302 302 302 302 302 200", "302 302 302 302 302 302 200"),
    "admin:login": ("200 200 200 200 200 200 302", "200 200 200 200 200 200 200"),
    "agreement:campaign": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    "agreement:csv": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    "agreement:index": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    "agreement:json": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    "agreement:plot": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    "api:not-found": ("404 404 404 404 404 404 404", "404 404 404 404 404 404 404"),  # a JSON 404 for any unknown path
    "api:annotation-detail": ("401 403 403 403 403 404 404", "401 403 403 403 403 405 405"),
    "api:annotation-list": ("401 403 403 403 403 200 200", "401 403 403 403 403 405 405"),
    "api:api-root": ("401 403 403 403 403 200 200", "401 403 403 403 403 405 405"),
    "api:calibration-detail": ("401 403 403 403 403 200 200", "401 403 403 403 403 405 405"),
    "api:calibration-list": ("401 403 403 403 403 200 200", "401 403 403 403 403 405 405"),
    "api:campaign-agreement": ("401 403 403 403 403 200 200", "401 403 403 403 403 405 405"),
    "api:campaign-calibrate": ("401 403 403 403 403 405 405", "401 403 403 403 403 200 200"),  # 200: saved already
    "api:campaign-publish": ("401 403 403 403 403 405 405", "401 403 403 403 403 200 200"),  # 200: published already
    "api:campaign-leaderboard": ("401 403 403 403 403 200 200", "401 403 403 403 403 405 405"),
    "api:case-detail": ("401 403 403 403 403 200 200", "401 403 403 403 403 405 405"),
    "api:case-list": ("401 403 403 403 403 200 200", "401 403 403 403 403 405 405"),
    "api:conversation-detail": ("401 403 403 403 403 200 200", "401 403 403 403 403 405 405"),
    "api:conversation-list": ("401 403 403 403 403 200 200", "401 403 403 403 403 405 405"),
    "api:docs": ("401 403 403 403 403 200 200", "401 403 403 403 403 405 405"),
    "api:import-detail": ("401 403 403 403 403 200 200", "401 403 403 403 403 405 405"),  # Rex's upload; and admins
    "api:import-list": ("401 403 403 403 403 405 405", "401 403 403 403 403 422 422"),  # no file: 422 naming it
    "api:judge-list": ("401 403 403 403 403 200 200", "401 403 403 403 403 405 405"),
    "api:judgement-detail": ("401 403 403 403 403 200 200", "401 403 403 403 403 405 405"),
    "api:judgement-list": ("401 403 403 403 403 200 200", "401 403 403 403 403 405 405"),
    "api:leaderboard-detail": ("401 403 403 403 403 200 200", "401 403 403 403 403 405 405"),
    "api:leaderboard-list": ("401 403 403 403 403 200 200", "401 403 403 403 403 405 405"),
    "api:prompt-list": ("401 403 403 403 403 200 200", "401 403 403 403 403 405 405"),
    "api:run-detail": ("401 403 403 403 403 200 200", "401 403 403 403 403 405 405"),
    "api:run-list": ("401 403 403 403 403 405 405", "401 403 403 403 403 422 422"),  # no judges: 422 naming them
    "api:schema": ("401 403 403 403 403 200 200", "401 403 403 403 403 405 405"),
    "campaign-list": ("302 403 403 403 200 200 200", "405 405 405 405 405 405 405"),
    "campaign-design": ("405 405 405 405 405 405 405", "302 403 403 403 403 422 422"),  # no design posted: refused
    "campaign-progress": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    "case-detail": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    "case-list": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    "claim": ("302 403 200 200 404 403 404", "302 403 302 302 404 403 404"),
    "conversation-detail": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    "exports:download": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    "exports:job-download": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    "exports:page": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    "exports:start": ("405 405 405 405 405 405 405", "302 403 403 403 403 302 302"),
    "favicon": ("302 302 302 302 302 302 302", "302 302 302 302 302 302 302"),
    "generation:cancel": ("405 405 405 405 405 405 405", "302 403 403 403 403 302 302"),
    "generation:create": ("405 405 405 405 405 405 405", "302 403 403 403 403 400 400"),
    "generation:detail": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    "generation:launch": ("405 405 405 405 405 405 405", "302 403 403 403 403 302 302"),
    "generation:list": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    "generation:retry": ("405 405 405 405 405 405 405", "302 403 403 403 403 302 302"),
    "generation:simulated-endpoints": ("405 405 405 405 405 405 405", "302 403 403 403 403 302 302"),
    "healthz": ("200 200 200 200 200 200 200", "405 405 405 405 405 405 405"),
    "home": ("302 403 200 200 200 200 200", "405 405 405 405 405 405 405"),
    "imports:page": ("302 403 403 403 403 200 200", "302 403 403 403 403 400 400"),  # an empty upload is refused
    "imports:status": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    "login": ("200 200 200 200 200 200 200", "200 200 200 200 200 200 200"),
    "logout": ("405 405 405 405 405 405 405", "302 302 302 302 302 302 302"),
    "media": ("302 403 200 403 200 200 200", "405 405 405 405 405 405 405"),
    "metrics": ("404 404 404 404 404 404 404", "405 405 405 405 405 405 405"),  # off without METRICS_TOKEN; a
    # session is never a scrape token (test_probes.py: 401 without the bearer token, 200 with it)
    "media[export %2e/]": ("302 403 404 404 404 404 404", "405 405 405 405 405 405 405"),
    "media[export ./]": ("302 403 404 404 404 404 404", "405 405 405 405 405 405 405"),
    "media[export //]": ("302 403 404 404 404 404 404", "405 405 405 405 405 405 405"),
    "media[export images/../]": ("302 403 404 404 404 404 404", "405 405 405 405 405 405 405"),
    "media[export images/web/../../]": ("302 403 404 404 404 404 404", "405 405 405 405 405 405 405"),
    "media[export]": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    "media[file no object owns]": ("302 403 404 404 404 404 404", "405 405 405 405 405 405 405"),
    "media[original ./]": ("302 403 404 404 404 404 404", "405 405 405 405 405 405 405"),
    "media[original DICOM]": ("302 403 403 403 403 403 200", "405 405 405 405 405 405 405"),
    "media[web image of Carmen's item]": ("302 403 200 403 200 200 200", "405 405 405 405 405 405 405"),
    "media[web image of a case no clinician holds]": (
        "302 403 403 403 403 200 200",
        "405 405 405 405 405 405 405",
    ),  # in no campaign
    "readyz": ("200 200 200 200 200 200 200", "405 405 405 405 405 405 405"),
    "my-queue": ("302 403 200 200 200 403 200", "405 405 405 405 405 405 405"),
    "results:calibration": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    "results:calibration-save": ("405 405 405 405 405 405 405", "302 403 403 403 403 302 302"),
    "results:leaderboard": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    "results:planning": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    "results:review": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    "results:snapshot-list": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    "results:snapshot-publish": ("405 405 405 405 405 405 405", "302 403 403 403 403 302 302"),
    "revise": ("405 405 405 405 405 405 405", "302 403 302 404 404 403 404"),
    "runs:cancel": ("405 405 405 405 405 405 405", "302 403 403 403 403 302 302"),
    "runs:create": ("405 405 405 405 405 405 405", "302 403 403 403 403 400 400"),
    "runs:detail": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    "runs:estimate": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    "runs:launch": ("405 405 405 405 405 405 405", "302 403 403 403 403 302 302"),
    "runs:list": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    "runs:retry": ("405 405 405 405 405 405 405", "302 403 403 403 403 302 302"),
    "sso-callback": ("404 404 404 404 404 404 404", "405 405 405 405 405 405 405"),  # single sign-on off here;
    "sso-login": ("404 404 404 404 404 404 404", "405 405 405 405 405 405 405"),  # test_sso.py logs in through it
    "snapshots:detail": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    "snapshots:json": ("302 403 403 403 403 200 200", "405 405 405 405 405 405 405"),
    # The world's annotation is Carmen's draft: only a submitted one opens (her 200 is in test_workspace.py).
    "submitted-annotation": ("302 403 404 404 404 403 404", "405 405 405 405 405 405 405"),
    "workspace": ("302 403 200 404 404 403 404", "405 405 405 405 405 405 405"),
    "workspace-save": ("405 405 405 405 405 405 405", "302 403 302 404 404 403 404"),
}


def media_urls(world) -> dict[str, str]:
    """The media files every role reaches or not, and the path tricks that must reach no one."""
    export = world.export_job.file.name
    return {
        "media[web image of Carmen's item]": world.image.derivative.url,
        "media[web image of a case no clinician holds]": world.other_image.derivative.url,
        "media[original DICOM]": f"/media/{world.image.original.name}",
        "media[export]": f"/media/{export}",
        "media[export //]": f"/media//{export}",
        "media[export ./]": f"/media/./{export}",
        "media[export images/../]": f"/media/images/../{export}",
        "media[export %2e/]": f"/media/%2e/{export}",
        "media[export images/web/../../]": f"/media/images/web/../../{export}",
        "media[original ./]": f"/media/./{world.image.original.name}",
        "media[file no object owns]": "/media/exports/stray.csv",
    }


def url_names() -> dict[str, set[str]]:
    """Every URL name of the site (with its namespaces) and the parameters of its shortest pattern."""
    names: dict[str, set[str]] = {}

    def walk(patterns, namespaces, outer_params):
        for pattern in patterns:
            params = outer_params | set(pattern.pattern.regex.groupindex)
            if isinstance(pattern, URLResolver):
                namespace = [pattern.namespace] if pattern.namespace else []
                walk(pattern.url_patterns, namespaces + namespace, params)
                continue
            assert isinstance(pattern, URLPattern)
            if namespaces[:1] == list(SKIPPED_NAMESPACES):
                continue
            assert pattern.name, f"{pattern.pattern} has no name: name it and add a row for it"
            name = ":".join([*namespaces, pattern.name])
            params -= {"format"}  # DRF's format suffixes: the plain pattern stands for them
            names[name] = params if name not in names else min(names[name], params, key=len)

    walk(get_resolver().url_patterns, [], set())
    return names | {name: set() for name in ADMIN_ROWS}


def fill(name: str, params: set[str], world) -> dict:
    """Real ids of the world's objects for the URL's parameters."""
    judgement = Judgement.objects.first()
    by_name = {
        "case-detail": {"key": world.image.case.key},
        "conversation-detail": {"key": world.conversation.key},
        "api:case-detail": {"key": world.image.case.key},
        "api:conversation-detail": {"key": world.conversation.key},
        "api:annotation-detail": {"pk": world.annotation.pk},
        "api:judgement-detail": {"pk": judgement.pk},
        "api:calibration-detail": {"pk": CalibrationArtifact.objects.get().pk},
        "api:leaderboard-detail": {"pk": world.snapshot.pk},
        "api:import-detail": {"token": world.upload},
        "api:run-detail": {"pk": world.jury_run.pk},
        "exports:job-download": {"pk": world.export_job.pk},
        "exports:download": {"kind": "annotations", "fmt": "csv"},
        "agreement:plot": {"plot": "heatmap", "dimension": "safety"},
        "media": {"path": world.image.derivative.name},
        "imports:status": {"token": world.upload_token},
    }
    namespace = name.split(":")[0] if ":" in name else ""
    by_namespace = {
        "runs": {"pk": world.jury_run.pk},
        "generation": {"pk": world.generation_run.pk},
        "snapshots": {"pk": world.snapshot.pk},
        "results": {"key": world.results_campaign.key},
        "agreement": {"key": world.results_campaign.key},
        "api": {"key": world.results_campaign.key},
    }
    common = {
        "key": world.campaign.key,
        "conversation_id": world.conversation.pk,
        "assignment_id": world.assignment.pk,
        "annotation_id": world.annotation.pk,
    }
    values = common | by_namespace.get(namespace, {}) | by_name.get(name, {})
    missing = params - set(values)
    assert not missing, f"{name}: no value for {missing}: say in fill() which object of the world it names"
    return {param: values[param] for param in params}


def test_every_url_answers_every_persona_as_the_table_says(world, otto, carmen, chidi, adele, rex, ada, settings):
    settings.CELERY_BROKER_URL = None  # eager tasks: readiness then needs no worker, as on a developer's machine
    stray = world.export_job.file.storage.path("exports/stray.csv")
    with open(stray, "w") as handle:
        handle.write("stray")
    users = {"anonymous": None, "otto": otto, "carmen": carmen, "chidi": chidi, "adele": adele, "rex": rex, "ada": ada}
    urls = {name: reverse(name, kwargs=fill(name, params, world)) for name, params in url_names().items()}
    urls |= media_urls(world)
    missing = sorted(set(urls) - set(EXPECTED))
    observed, wrong = {}, []
    clients = {persona: Client() for persona in PERSONAS}
    for name, url in sorted(urls.items()):
        row = []
        for method in ("get", "post"):
            statuses = []
            for persona in PERSONAS:
                client = clients[persona]
                if users[persona] is not None:
                    client.force_login(users[persona])
                with transaction.atomic():
                    status = getattr(client, method)(url).status_code
                    transaction.set_rollback(True)
                statuses.append(str(status))
            row.append(" ".join(statuses))
        observed[name] = tuple(row)
        if name in EXPECTED and EXPECTED[name] != observed[name]:
            wrong.append(f"{name} ({url}): expected {EXPECTED[name]}, got {observed[name]}")
    if os.environ.get("ACCESS_MATRIX_PRINT"):
        for name, row in observed.items():
            print(f'    "{name}": ("{row[0]}", "{row[1]}"),')
    assert not missing, "\n".join(f"add a row for {name} ({urls[name]})" for name in missing)
    assert not wrong, "\n".join(wrong)
    assert not set(EXPECTED) - set(urls), f"rows for URLs that no longer exist: {sorted(set(EXPECTED) - set(urls))}"
