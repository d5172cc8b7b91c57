"""A small world holding one object of every kind a URL can name, for the access tests of the whole site."""

from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

from annotation import services
from annotation.models import Annotation, Assignment, AuditEvent, Campaign, Conversation, Image, Rubric
from annotation.services import AnnotationInput
from bundles.importer import import_bundle
from bundles.uploads import QUEUED
from generation.models import GenerationRun
from jury.models import ExportJob, JuryRun, LeaderboardSnapshot
from jury.results.calibration import save_calibration
from jury.results.leaderboard import publish_leaderboard
from tests.bundle_files import write_bundle
from tests.factories import JuryRunFactory
from tests.jury.web.test_results import seed_results_world

EXPORT_CONTENT = b"conversation,annotator,safety\nconv-1,carmen,4\n"


@dataclass
class World:
    campaign: Campaign  # open; Carmen and Chidi take part, only Carmen holds an item
    assignment: Assignment  # Carmen's, on a conversation of the DICOM case
    annotation: Annotation  # Carmen's draft
    conversation: Conversation
    image: Image  # the DICOM case's image: original .dcm, web .png
    other_image: Image  # of a case no clinician was handed
    results_campaign: Campaign  # locked, calibrated, with a published snapshot
    snapshot: LeaderboardSnapshot
    jury_run: JuryRun
    generation_run: GenerationRun
    export_job: ExportJob
    upload_token: str  # a bundle upload Rex queued
    upload: str  # the id of an import Rex queued through the API


@pytest.fixture
def world(tmp_path, carmen, chidi, rex) -> World:
    cache.clear()
    import_bundle(path=write_bundle(tmp_path / "bundle"))
    campaign = services.create_campaign(
        key="pilot",
        name="Pilot",
        rubric=Rubric.objects.get(is_default=True),
        conversations=Conversation.objects.filter(case__key="case-0002", condition="full"),
        clinicians=[carmen, chidi],
        overlap=2,
    )
    assignment = services.claim_next(clinician=carmen, campaign=campaign)
    annotation = services.save_draft(
        assignment=assignment,
        clinician=carmen,
        data=AnnotationInput(scores={"safety": 4}, rationale="", flags=[]),
        version=0,
    )
    results_campaign = seed_results_world(n_cases=6, scored_cases=6)
    save_calibration(campaign=results_campaign, actor=rex)
    snapshot, _ = publish_leaderboard(campaign=results_campaign, user=rex)
    name = "exports/annotations-1-0123456789abcdef0123456789abcdef.csv"
    Path(settings.MEDIA_ROOT, name).parent.mkdir(parents=True, exist_ok=True)
    Path(settings.MEDIA_ROOT, name).write_bytes(EXPORT_CONTENT)
    export_job = ExportJob.objects.create(kind="annotations", format="csv", status="done", file=name, created_by=rex)
    return World(
        campaign=campaign,
        assignment=assignment,
        annotation=annotation,
        conversation=assignment.conversation,
        image=Image.objects.get(case__key="case-0002"),
        other_image=Image.objects.filter(case__key="case-0001").first(),
        results_campaign=results_campaign,
        snapshot=snapshot,
        jury_run=JuryRunFactory(name="Matrix run", created_by=rex),
        generation_run=GenerationRun.objects.create(name="Matrix generation", conditions=["full"], created_by=rex),
        export_job=export_job,
        upload_token=queued_upload(user=rex),
        upload=AuditEvent.objects.create(
            actor=rex, action=QUEUED, target="chat.jsonl", details={"upload": "f" * 32, "file": "chat.jsonl"}
        ).details["upload"],
    )


def queued_upload(*, user) -> str:
    """The id of a bundle upload that is queued, recorded as ``bundles.uploads`` records one."""
    token = "0123456789abcdef0123456789abcdef"
    AuditEvent.objects.create(
        actor=user, action=QUEUED, target="bundle.zip", details={"upload": token, "file": "bundle.zip"}
    )
    return token
