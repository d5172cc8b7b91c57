"""Writes of conversation generation: endpoints for the demo, runs and their items, estimating, launching,
cancelling, retrying."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from annotation.models import AuditEvent, Case, Conversation, ModelUnderTest
from engine.models import CacheEntry
from engine.providers import PROVIDERS
from generation import dialogue, estimate, prompts, tasks
from generation.models import GenerationItem, GenerationRun, ModelEndpoint
from generation.runner import model_caller, patient_caller
from generation.selectors import select_cases

CONDITIONS = tuple(Conversation.Condition.values)


class GenerationError(ValueError):
    """A request generation refuses, with a message fit for the user."""


def item_key(*, run_id: int, case_id: int, model_id: int, condition: str) -> str:
    return hashlib.sha256(f"gen:{run_id}:{case_id}:{model_id}:{condition}".encode()).hexdigest()


def ensure_simulated_endpoints(*, models=None) -> list[ModelEndpoint]:
    """A simulated endpoint for every model under test that has none (the demo's stand-in models); others are
    left alone."""
    endpoints = []
    for model in models if models is not None else ModelUnderTest.objects.all():
        endpoint, _ = ModelEndpoint.objects.get_or_create(
            model_under_test=model,
            defaults={
                "provider": "simulated",
                "model_id": f"simulated/{model.key}",
                "parameters": {"max_tokens": 600},
                "accepts_images": True,
            },
        )
        endpoints.append(endpoint)
    return endpoints


def prompt_snapshots() -> dict:
    """The current persona and system prompt files, refused when an earlier run used the same ``key@version``
    with a different text (a changed prompt needs a new version)."""
    snapshots = {"patient": prompts.load(prompts.PATIENT_PROMPT).snapshot()}
    snapshots["model"] = prompts.load(prompts.MODEL_PROMPT).snapshot()
    for role, snapshot in snapshots.items():
        earlier = (
            GenerationRun.objects.filter(**{f"prompts__{role}__reference": snapshot["reference"]})
            .exclude(**{f"prompts__{role}__sha256": snapshot["sha256"]})
            .values_list("pk", flat=True)
            .first()
        )
        if earlier:
            raise GenerationError(
                f"{snapshot['reference']} differs from the text run {earlier} used under the same version; "
                "give the changed prompt a new version"
            )
    return snapshots


def _checked_request(*, models, conditions, patient_provider: str, max_turns: int) -> list[str]:
    """The run's conditions in their canonical order, once the request is known to be one a run can carry out."""
    if not models:
        raise GenerationError("choose at least one model under test")
    conditions = [c for c in CONDITIONS if c in set(conditions)]
    if not conditions:
        raise GenerationError(f"choose at least one condition of {', '.join(CONDITIONS)}")
    if patient_provider not in PROVIDERS:
        raise GenerationError(f"unknown patient provider {patient_provider!r}: use one of {', '.join(PROVIDERS)}")
    if not 1 <= max_turns <= 20:
        raise GenerationError("max turns must be from 1 to 20")
    endpoints = {e.model_under_test_id: e for e in ModelEndpoint.objects.filter(model_under_test__in=models)}
    missing = [m.key for m in models if m.pk not in endpoints]
    if missing:
        raise GenerationError(f"no endpoint for {', '.join(missing)}: add one in the admin (Model endpoints)")
    blind = [m.key for m in models if not endpoints[m.pk].accepts_images]
    with_image = [c for c in conditions if dialogue.SENDS_IMAGE[c]]
    if blind and with_image:
        raise GenerationError(
            f"{', '.join(blind)} cannot take images, so {' and '.join(with_image)} would not differ from no_image; "
            "generate only no_image for them"
        )
    return conditions


def create_run(
    *,
    name: str,
    models: list[ModelUnderTest],
    conditions: list[str] | tuple[str, ...] = CONDITIONS,
    case_selection: dict | None = None,
    max_turns: int = 4,
    seed: int = 0,
    patient_provider: str = "simulated",
    patient_model_id: str = "simulated/patient",
    patient_parameters: dict | None = None,
    patient_accepts_images: bool = True,
    patient_prices: tuple[Decimal, Decimal] = (Decimal("0"), Decimal("0")),
    budget: Decimal | None = None,
    concurrency: int | None = None,
    created_by=None,
) -> GenerationRun:
    """A draft run and one item per case × model × condition, every item of a case with the same patient seed.

    It is long because a run's fifteen recorded fields and its items are written in one transaction; the request is
    checked by _checked_request first."""
    conditions = _checked_request(
        models=models, conditions=conditions, patient_provider=patient_provider, max_turns=max_turns
    )
    case_selection = case_selection or {}
    cases = list(select_cases(case_selection).values_list("pk", "key"))
    if not cases:
        raise GenerationError("no case matches the selection")
    snapshots = prompt_snapshots()
    with transaction.atomic():
        run = GenerationRun.objects.create(
            name=name,
            case_selection=case_selection,
            conditions=conditions,
            max_turns=max_turns,
            seed=seed,
            patient_provider=patient_provider,
            patient_model_id=patient_model_id,
            patient_parameters=patient_parameters or {},
            patient_accepts_images=patient_accepts_images,
            patient_input_price_per_mtok=patient_prices[0],
            patient_output_price_per_mtok=patient_prices[1],
            prompts=snapshots,
            budget=budget,
            concurrency=concurrency,
            created_by=created_by,
        )
        run.models_under_test.set(models)
        GenerationItem.objects.bulk_create(
            [
                GenerationItem(
                    run=run,
                    key=item_key(run_id=run.pk, case_id=case_id, model_id=model.pk, condition=condition),
                    case_id=case_id,
                    model=model,
                    condition=condition,
                    patient_seed=dialogue.patient_seed(run_seed=seed, case_key=case_key),
                )
                for case_id, case_key in cases
                for model in models
                for condition in conditions
            ],
            batch_size=2000,
            ignore_conflicts=True,
        )
        AuditEvent.objects.create(
            actor=created_by,
            action="create_generation_run",
            target=f"generation run {run.pk}",
            details={"cases": len(cases), "models": [m.key for m in models], "conditions": conditions},
        )
    return run


def _sides(*, run: GenerationRun, case: Case, endpoint: ModelEndpoint, condition: str) -> tuple:
    return dialogue.measure_sides(
        patient_caller=patient_caller(run, seed=0),
        model_caller=model_caller(endpoint),
        prompts=run.prompts,
        case=case,
        summary=case.profile.summary if hasattr(case, "profile") else None,
        images=list(case.images.all()),
        condition=condition,
        patient_sees_image=run.patient_accepts_images,
    )


def estimate_run(*, run: GenerationRun) -> dict:
    """Dry run: conversations, calls, tokens and money (upper bounds: every conversation runs to ``max_turns``).
    Conversations already generated are left out. Stored on the run."""
    items = (
        run.items.exclude(status=GenerationItem.Status.DONE)
        .select_related("case__profile", "model__endpoint")
        .prefetch_related("case__images")
        .order_by("id")
    )
    planned, endpoints, sides = [], {}, {}
    for item in items:
        endpoint = item.model.endpoint
        endpoints[item.model.key] = endpoint
        shape = (item.case_id, item.model_id, item.condition)
        if shape not in sides:
            sides[shape] = _sides(run=run, case=item.case, endpoint=endpoint, condition=item.condition)
        patient, model = sides[shape]
        planned.append(estimate.Planned(case=item.case.key, model=item.model.key, patient=patient, model_side=model))
    patient, per_model = estimate.estimate_conversations(planned, max_turns=run.max_turns)
    patient_cost = run.patient_cost_of(input_tokens=patient.input_tokens, output_tokens=patient.output_tokens)
    models = {}
    for key, totals in per_model.items():
        cost = endpoints[key].cost_of(input_tokens=totals.input_tokens, output_tokens=totals.output_tokens)
        models[key] = {
            "calls": totals.calls,
            "input_tokens": totals.input_tokens,
            "output_tokens": totals.output_tokens,
            "cost": str(cost),
        }
    model_totals = sum(per_model.values(), estimate.CallTotals())
    total_cost = patient_cost + sum((Decimal(m["cost"]) for m in models.values()), Decimal("0"))
    cached = CacheEntry.objects.filter(origin__in=run.items.values("key")).count()
    result = {
        "conversations": len(planned),
        "calls": patient.calls + model_totals.calls,
        "patient_calls": patient.calls,
        "model_calls": model_totals.calls,
        "input_tokens": patient.input_tokens + model_totals.input_tokens,
        "output_tokens": patient.output_tokens + model_totals.output_tokens,
        "patient_cost": str(patient_cost),
        "cost": str(total_cost),
        "models": models,
        "cached_replies": cached,
        "at": timezone.now().isoformat(),
        "note": (
            f"upper bound: every conversation runs to {run.max_turns} exchanges; a case's opening patient message "
            f"is paid once; tokens at 4 characters a token, {estimate.IMAGE_TOKENS:,} an image, "
            f"{estimate.PATIENT_TURN_TOKENS} a patient message and up to {estimate.MODEL_TURN_TOKENS} a reply"
        ),
    }
    GenerationRun.objects.filter(pk=run.pk).update(estimate=result)
    run.estimate = result
    return result


def launch_run(*, run: GenerationRun, budget: Decimal | None = None) -> GenerationRun:
    """Start (or resume) a run on Celery, optionally with a new budget."""
    startable = (GenerationRun.Status.DRAFT, GenerationRun.Status.RUNNING, GenerationRun.Status.BUDGET_STOPPED)
    if run.status not in startable:
        raise GenerationError(f"a {run.get_status_display().lower()} run cannot be launched; retry its failures")
    updates = {"status": GenerationRun.Status.RUNNING, "started_at": run.started_at or timezone.now()}
    if budget is not None:
        updates["budget"] = budget
    GenerationRun.objects.filter(pk=run.pk).update(**updates, finished_at=None, message="")
    run.refresh_from_db()
    transaction.on_commit(lambda: tasks.dispatch_run.delay(run.pk))
    return run


def cancel_run(*, run: GenerationRun) -> GenerationRun:
    """Stop a run: pending items are cancelled; conversations in progress stop after their call in flight."""
    finished = (GenerationRun.Status.COMPLETED, GenerationRun.Status.COMPLETED_WITH_FAILURES)
    with transaction.atomic():
        GenerationRun.objects.filter(pk=run.pk).exclude(status__in=finished).update(
            status=GenerationRun.Status.CANCELLED, finished_at=timezone.now(), message="Cancelled."
        )
        run.items.filter(status=GenerationItem.Status.PENDING).update(status=GenerationItem.Status.CANCELLED)
    run.refresh_from_db()
    return run


def retry_failed(*, run: GenerationRun) -> int:
    """Put failed and cancelled items back and relaunch; their finished turns come from the cache."""
    with transaction.atomic():
        count = run.items.filter(status__in=[GenerationItem.Status.FAILED, GenerationItem.Status.CANCELLED]).update(
            status=GenerationItem.Status.PENDING, error="", lease_until=None, worker="", finished_at=None
        )
        if count:
            GenerationRun.objects.filter(pk=run.pk).update(
                status=GenerationRun.Status.RUNNING, finished_at=None, message=""
            )
            run.refresh_from_db()
            transaction.on_commit(lambda: tasks.dispatch_run.delay(run.pk))
    return count
