"""Structured logs: one JSON object per record, each with its request's id, and never any patient content.

Carmen (a clinician) opens a conversation whose profile and transcript hold words found nowhere else, autosaves,
makes a mistake, submits with a rationale quoting the patient, and the jury scores the conversation; every record
any logger wrote meanwhile (at DEBUG, SQL included) is read back and searched for those words.
"""

import io
import json
import logging

import pytest
from django.db import connection

from imcbench_site import metrics
from imcbench_site.observability import JsonLogFormatter, RequestIdFilter, request_id_from
from jury import services as jury_services
from jury.models import JudgePrompt, JuryRun
from tests.factories import CaseFactory, ConversationFactory, PatientProfileFactory, pilot_campaign

pytestmark = pytest.mark.django_db

PATIENT_WORDS = ("Quillfeather", "zembrolide", "Vintersby", "Ostrander")


@pytest.fixture
def captured_logs():
    """Every record of every logger, formatted as the deployment formats them; restores the root logger after."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    connection.force_debug_cursor = True  # Django would log every query (with its parameters) at DEBUG
    try:
        yield stream
    finally:
        connection.force_debug_cursor = False
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def conversation():
    case = CaseFactory(profile=None)
    PatientProfileFactory(
        case=case,
        raw={"name": "Mrs Ostrander", "history": ["Quillfeather syndrome"]},
        summary={
            "age": 61,
            "sex": "female",
            "conditions": ["Quillfeather syndrome"],
            "medications": ["zembrolide 40 mg daily"],
            "allergies": [],
            "observations": [],
        },
    )
    conversation = ConversationFactory(
        case=case, turns=["My Quillfeather rash came back after Vintersby.", "Are you still taking zembrolide?"]
    )
    conversation.extra = {"demo_quality": {"safety": 3.0, "accuracy": 3.0, "uncertainty": 3.0}}
    conversation.save()
    return conversation


def test_no_patient_content_reaches_the_logs_and_every_record_names_its_request(
    client, carmen, conversation, captured_logs, django_capture_on_commit_callbacks, eager_celery
):
    campaign = pilot_campaign(clinicians=[carmen], conversations=[conversation])
    client.force_login(carmen)
    item = client.post(f"/work/{campaign.key}/next/").url
    page = client.get(item, headers={"X-Request-ID": "trace-0001-from-the-proxy"})
    assert "Quillfeather" in page.content.decode(), "the workspace shows the content the logs must not"
    assert page["X-Request-ID"] == "trace-0001-from-the-proxy"
    htmx = {"HX-Request": "true"}
    saved = client.post(item + "save/", {"score-safety": "4", "rationale": "Vintersby?", "version": "0"}, headers=htmx)
    assert saved.status_code == 200
    refused = client.post(item + "save/", {"score-safety": "9", "rationale": "Ostrander", "version": "1"}, headers=htmx)
    assert refused.status_code == 422
    scores = {"score-safety": "2", "score-accuracy": "3", "score-uncertainty": "4"}
    rationale = "Missed that zembrolide interacts; Quillfeather after Vintersby needs referral."
    submitted = client.post(item + "save/", scores | {"rationale": rationale, "version": "1", "action": "submit"})
    assert submitted.status_code == 302

    calls_before = metrics.PROVIDER_CALLS.labels(work="jury", provider="simulated", outcome="ok")._value.get()
    jury_services.sync_prompts()
    run = jury_services.create_run(
        name="logs",
        judges=jury_services.ensure_demo_judges()[:1],
        prompts=list(JudgePrompt.objects.filter(dimension="safety")),
    )
    with django_capture_on_commit_callbacks(execute=True):
        jury_services.launch_run(run=run)
    run.refresh_from_db()
    assert run.status == JuryRun.Status.COMPLETED
    calls = metrics.PROVIDER_CALLS.labels(work="jury", provider="simulated", outcome="ok")._value.get()
    assert calls == calls_before + run.items.count()

    lines = captured_logs.getvalue().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) > 10 and all({"time", "level", "logger", "message", "request_id"} <= set(r) for r in records)
    leaked = [line for line in lines if any(word.lower() in line.lower() for word in PATIENT_WORDS)]
    assert leaked == []

    requests = [r for r in records if r["logger"] == "imcbench.request"]
    assert [(r["method"], r["view"], r["status"]) for r in requests] == [
        ("POST", "claim", 302),
        ("GET", "workspace", 200),
        ("POST", "workspace-save", 200),
        ("POST", "workspace-save", 422),
        ("POST", "workspace-save", 302),
    ]
    assert requests[1]["request_id"] == "trace-0001-from-the-proxy"
    assert len({r["request_id"] for r in requests}) == 5
    refused_id = requests[3]["request_id"]
    during = [r for r in records if r["request_id"] == refused_id]
    assert {r["logger"] for r in during} >= {"django.request", "imcbench.request"}, "Django's warning carries it"


@pytest.mark.parametrize(
    ("header", "kept"),
    [("trace-0001-from-the-proxy", True), ("short", False), ("has space in it", False), ("x" * 129, False)],
)
def test_a_request_id_is_kept_only_when_it_is_a_plain_token(header, kept):
    assert (request_id_from(header) == header) is kept
    assert len(request_id_from(header)) >= 8
