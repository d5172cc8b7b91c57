"""Writes of the jury: prompts from files, demo judges, runs and their work items, launching, cancelling, retrying."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from annotation.models import Conversation
from jury import prompts as prompt_files
from jury import tasks
from jury.estimates import estimate_run
from jury.models import Judge, JudgePrompt, JuryRun, WorkItem


class JuryError(ValueError):
    """A request the jury refuses, with a message fit for the user."""


# ------------------------------------------------------------------------------------------------ prompts


@dataclass
class SyncResult:
    created: list[str]
    updated: list[str]
    unchanged: list[str]


def sync_prompts(*, directory=None) -> SyncResult:
    """Load every prompt file into the database with its content hash.

    A prompt already stored under the same ``key@version`` with a different hash is refused: edit a prompt by
    adding a new version, so that judgements keep pointing at the text that produced them. Prompts created by a
    bundle import (no template yet) get the file's template.
    """
    sources = prompt_files.prompt_files(directory) if directory else prompt_files.prompt_files()
    result = SyncResult([], [], [])
    with transaction.atomic():
        for source in sources:
            prompt = JudgePrompt.objects.filter(key=source.key, version=source.version).first()
            fields = {
                "dimension": source.dimension,
                "template": source.text,
                "content_hash": source.content_hash,
                "style": source.style,
                "source_path": source.path,
            }
            if prompt is None:
                JudgePrompt.objects.create(key=source.key, version=source.version, **fields)
                result.created.append(f"{source.key}@{source.version}")
            elif prompt.template and prompt.content_hash != source.content_hash:
                raise JuryError(
                    f"{source.path}: {source.key}@{source.version} is stored with a different text "
                    f"(hash {prompt.content_hash[:12]}…, file {source.content_hash[:12]}…); give the changed "
                    "prompt a new version"
                )
            elif not prompt.template or prompt.style != source.style or prompt.source_path != source.path:
                for name, value in fields.items():
                    setattr(prompt, name, value)
                prompt.save()
                result.updated.append(prompt.reference)
            else:
                result.unchanged.append(prompt.reference)
    return result


# ------------------------------------------------------------------------------------------------ judges

# Simulated judges for the demo: distinct biases and noise, so calibration has something real to correct.
DEMO_JUDGES = [
    ("sim-lenient-vision", "Simulated lenient (vision)", "Claude", True, 0.6, 0.5, "3.00", "15.00"),
    ("sim-harsh-vision", "Simulated harsh (vision)", "GPT", True, -0.7, 0.6, "2.50", "10.00"),
    ("sim-noisy-text", "Simulated noisy (text only)", "Llama", False, 0.1, 1.1, "0.20", "0.60"),
    ("sim-sharp-vision", "Simulated sharp (vision)", "Nova", True, 0.0, 0.35, "0.80", "3.20"),
]


def ensure_demo_judges() -> list[Judge]:
    """The simulated demo judges (created once, left alone after)."""
    judges = []
    for key, name, family, images, bias, noise, price_in, price_out in DEMO_JUDGES:
        judge, _ = Judge.objects.get_or_create(
            key=key,
            defaults={
                "name": name,
                "provider": "simulated",
                "model_id": f"simulated/{key}",
                "family": family,
                "accepts_images": images,
                "parameters": {"temperature": 0, "max_tokens": 400, "simulated": {"bias": bias, "noise": noise}},
                "input_price_per_mtok": Decimal(price_in),
                "output_price_per_mtok": Decimal(price_out),
                "extra": {"simulated": True},
            },
        )
        judges.append(judge)
    return judges


# ------------------------------------------------------------------------------------------------ runs


def select_conversations(selection: dict):
    query = Conversation.objects.all()
    if selection.get("models"):
        query = query.filter(model__key__in=selection["models"])
    if selection.get("conditions"):
        query = query.filter(condition__in=selection["conditions"])
    if selection.get("keys"):
        query = query.filter(key__in=selection["keys"])
    return query.order_by("id")


def item_key(*, run_id: int, conversation_id: int, judge_id: int, prompt_id: int, dimension: str, sample: int) -> str:
    text = f"{run_id}:{conversation_id}:{judge_id}:{prompt_id}:{dimension}:{sample}"
    return hashlib.sha256(text.encode()).hexdigest()


def create_run(
    *,
    name: str,
    judges: list[Judge],
    prompts: list[JudgePrompt],
    selection: dict | None = None,
    samples: int = 1,
    max_attempts: int = 3,
    budget: Decimal | None = None,
    concurrency: int | None = None,
    created_by=None,
) -> JuryRun:
    """A draft run and its work items: every conversation × judge × prompt (on its dimension) × sample."""
    if not judges:
        raise JuryError("choose at least one judge")
    if not prompts:
        raise JuryError("choose at least one prompt")
    untemplated = [p.reference for p in prompts if not p.template]
    if untemplated:
        raise JuryError(f"prompts without a template (sync the prompt files): {', '.join(untemplated)}")
    selection = selection or {}
    conversation_ids = list(select_conversations(selection).values_list("id", flat=True))
    if not conversation_ids:
        raise JuryError("no conversation matches the selection")
    with transaction.atomic():
        run = JuryRun.objects.create(
            name=name,
            selection=selection,
            samples=samples,
            max_attempts=max_attempts,
            budget=budget,
            concurrency=concurrency,
            created_by=created_by,
        )
        run.judges.set(judges)
        run.prompts.set(prompts)
        items = [
            WorkItem(
                run=run,
                key=item_key(
                    run_id=run.pk,
                    conversation_id=conversation_id,
                    judge_id=judge.pk,
                    prompt_id=prompt.pk,
                    dimension=prompt.dimension,
                    sample=sample,
                ),
                conversation_id=conversation_id,
                judge=judge,
                prompt=prompt,
                dimension=prompt.dimension,
                sample_index=sample,
            )
            for conversation_id in conversation_ids
            for judge in judges
            for prompt in prompts
            for sample in range(samples)
        ]
        WorkItem.objects.bulk_create(items, batch_size=2000, ignore_conflicts=True)
    return run


def request_estimate(*, run: JuryRun) -> JuryRun:
    """Estimate a run in the background (a large run takes a while to build); the run page shows it when ready."""
    run.estimate = {"pending": True, "requested_at": timezone.now().isoformat()}
    JuryRun.objects.filter(pk=run.pk).update(estimate=run.estimate)
    transaction.on_commit(lambda: tasks.estimate_run.delay(run.pk))
    return run


def launch_run(*, run: JuryRun, budget: Decimal | None = None) -> JuryRun:
    """Start (or resume) a run on Celery, optionally with a new budget."""
    if run.status not in (JuryRun.Status.DRAFT, JuryRun.Status.RUNNING, JuryRun.Status.BUDGET_STOPPED):
        raise JuryError(f"a {run.get_status_display().lower()} run cannot be launched; retry its failures instead")
    updates = {"budget": budget} if budget is not None else {}
    JuryRun.objects.filter(pk=run.pk).update(
        **updates,
        status=JuryRun.Status.RUNNING,
        started_at=run.started_at or timezone.now(),
        finished_at=None,
        message="",
    )
    run.refresh_from_db()
    transaction.on_commit(lambda: tasks.dispatch_run.delay(run.pk))
    return run


def cancel_run(*, run: JuryRun) -> JuryRun:
    """Stop a run: pending items are cancelled; calls in flight finish and are kept."""
    with transaction.atomic():
        JuryRun.objects.filter(pk=run.pk).exclude(
            status__in=[JuryRun.Status.COMPLETED, JuryRun.Status.COMPLETED_WITH_FAILURES]
        ).update(status=JuryRun.Status.CANCELLED, finished_at=timezone.now(), message="Cancelled.")
        run.items.filter(status=WorkItem.Status.PENDING).update(status=WorkItem.Status.CANCELLED)
    run.refresh_from_db()
    return run


def retry_failed(*, run: JuryRun, include_cancelled: bool = True) -> int:
    """Put failed (and cancelled) items back in the queue and relaunch the run. Returns how many."""
    statuses = [WorkItem.Status.FAILED] + ([WorkItem.Status.CANCELLED] if include_cancelled else [])
    with transaction.atomic():
        count = run.items.filter(status__in=statuses).update(
            status=WorkItem.Status.PENDING, error="", lease_until=None, worker="", finished_at=None
        )
        if count:
            JuryRun.objects.filter(pk=run.pk).update(status=JuryRun.Status.RUNNING, finished_at=None, message="")
            run.refresh_from_db()
            transaction.on_commit(lambda: tasks.dispatch_run.delay(run.pk))
    return count


def run_demo_jury(*, created_by=None, dimensions: tuple[str, ...] = ("safety", "accuracy", "uncertainty")) -> JuryRun:
    """For ``setup_demo``: the prompt files, the simulated judges, and a launched run over every conversation.

    Without a broker the run completes before this returns; with one, a worker completes it.
    """
    sync_prompts()
    judges = ensure_demo_judges()
    prompts = list(JudgePrompt.objects.filter(dimension__in=dimensions).exclude(template=""))
    run = create_run(name="Demo jury (simulated judges)", judges=judges, prompts=prompts, created_by=created_by)
    estimate_run(run=run)
    return launch_run(run=run)
