"""Generating conversations: claim items, play each conversation turn by turn, store it.

A work item is one conversation (case × model under test × condition). Its turns are sequential calls,
alternately to the patient simulator and to the model under test; many conversations run at once, each with at
most one call in flight. Every call goes through the jury's content-addressed cache (``jury.models.CacheEntry``),
and every reply is written to the cache together with its ``GenerationCall`` record the moment it arrives. A worker
killed mid-conversation therefore loses nothing: when the item's lease expires, any worker claims it again and
replays the finished turns from the cache with no provider call. Identical requests in flight at the same time
(a case's opening patient message is the same for every model and condition) are sent once.

The provider layer, the retry policy (``Retry-After`` honoured), the per-provider limits shared with every worker
(:func:`engine.limits.limiter_for`) and the cache are the jury's (``jury.runner``, ``engine.providers``); items are
claimed, renewed and released by the jury's lease functions (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL),
and the budget cap and cancel behave the same way. Provider calls run in one thread pool per provider
(:class:`jury.runner.ProviderPools`); those threads never touch the database.

It is long because the generation runner is one class whose turn-by-turn loop, reply handling and batched writes share
its state; leasing, calls and the cache are the engine's already.
"""

from __future__ import annotations

import logging
import mimetypes
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from time import monotonic

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from annotation.models import Conversation, Turn, bundle_key
from engine import leasing as leased_work
from engine.calls import Outcome, ProviderPools, RetryPolicy, worker_name
from engine.leasing import WorkStats, cache_entry, cached_reply
from engine.models import CacheEntry
from engine.providers import ImagePart, ProviderError, ProviderReply
from engine.providers.base import redact
from engine.providers.simulated import conversation_quality
from generation import dialogue
from generation.dialogue import MODEL, PATIENT, Caller
from generation.estimate import IMAGE_TOKENS
from generation.models import GenerationCall, GenerationItem, GenerationRun, ModelEndpoint
from generation.selectors import call_totals

log = logging.getLogger(__name__)
OUTPUT_TOKENS_GUESS = 400  # a turn's output before the reply is known (for the budget check)


def conversation_key(*, run_id: int, case_key: str, model_key: str, condition: str) -> str:
    return f"conv-gen{run_id}-{case_key}-{model_key}-{condition}"


def patient_caller(run: GenerationRun, *, seed: int) -> Caller:
    parameters = dict(run.patient_parameters)
    if run.patient_provider == "openai":
        parameters.setdefault("seed", seed % 2**31)  # the only provider of the three that takes a sampling seed
    return Caller(provider=run.patient_provider, model_id=run.patient_model_id, parameters=parameters)


def model_caller(endpoint: ModelEndpoint) -> Caller:
    return Caller(provider=endpoint.provider, model_id=endpoint.model_id, parameters=dict(endpoint.parameters))


def image_parts(images) -> tuple[ImagePart, ...]:
    parts = []
    for image in images:
        with image.derivative.open("rb") as handle:
            data = handle.read()
        parts.append(ImagePart.of(data=data, media_type=mimetypes.guess_type(image.derivative.name)[0] or "image/png"))
    return tuple(parts)


# A generation run finishes as a jury run does: once no item is pending or running.
finish_if_done = partial(leased_work.finish_if_done, model=GenerationItem)


# ------------------------------------------------------------------------------------------------ a conversation


@dataclass
class Step:
    """The call a conversation waits on."""

    role: str
    caller: Caller
    request: object
    cache_key: str
    estimate: Decimal


@dataclass
class Dialogue:
    item: GenerationItem
    persona: dialogue.Persona
    patient: Caller
    model: Caller
    endpoint: ModelEndpoint
    summary: dict | None
    images: tuple[ImagePart, ...]
    turns: list[tuple[str, str]] = field(default_factory=list)
    ended_by: str = ""
    step: Step | None = None
    admitted: bool = False

    @property
    def exchanges(self) -> int:
        return sum(1 for role, _ in self.turns if role == MODEL)


class Runner:
    """Works through one run's items in this process. ``providers`` maps a provider name to an instance (tests)."""

    def __init__(self, run: GenerationRun, *, providers: dict | None = None, policy: RetryPolicy | None = None):
        self.run = run
        self.worker = worker_name()
        self.pools = ProviderPools(
            providers=providers, concurrency=run.concurrency, thread_prefix="gen", work="generation"
        )
        self.policy = policy or RetryPolicy.from_settings()
        self.lease = settings.GENERATION_LEASE_SECONDS
        self.active: dict[int, Dialogue] = {}
        self.ready: list[Dialogue] = []
        self.inflight: dict[Future, Dialogue] = {}
        self.waiting: dict[str, list[Dialogue]] = {}  # cache key in flight → conversations waiting on the same reply
        self.stats = WorkStats()
        self.spent = Decimal("0")
        self.reserved = Decimal("0")
        self.halted = False
        self.budget_hit = False
        self._endpoints: dict[int, ModelEndpoint] = {}
        self._images: dict[int, tuple[ImagePart, ...]] = {}

    def _capacity(self) -> int:
        return max(4, 2 * self.pools.capacity)

    # -- preparing conversations
    def _prepare(self, ids: list[int]) -> list[Dialogue]:
        items = (
            GenerationItem.objects.filter(id__in=ids, worker=self.worker)
            .select_related("case__profile", "model")
            .prefetch_related("case__images")
        )
        prepared = []
        for item in items:
            try:
                prepared.append(self._dialogue(item))
            except Exception as error:  # noqa: BLE001 — a broken item fails alone
                self._fail_item(item, f"could not prepare the conversation: {redact(str(error))[:300]}")
        return prepared

    def _dialogue(self, item: GenerationItem) -> Dialogue:
        if item.model_id not in self._endpoints:
            endpoint = ModelEndpoint.objects.filter(model_under_test_id=item.model_id).first()
            if endpoint is None:
                raise ValueError(f"model {item.model.key} has no endpoint (add one in the admin)")
            self._endpoints[item.model_id] = endpoint
        endpoint = self._endpoints[item.model_id]
        case = item.case
        profile = getattr(case, "profile", None)
        images = list(case.images.all())
        persona = dialogue.build_persona(
            case=case,
            summary=profile.summary if profile else None,
            images=images,
            seed=item.patient_seed,
            sees_image=self.run.patient_accepts_images,
        )
        return Dialogue(
            item=item,
            persona=persona,
            patient=patient_caller(self.run, seed=item.patient_seed),
            model=model_caller(endpoint),
            endpoint=endpoint,
            summary=profile.summary if profile else None,
            images=self._case_images(case.pk, images),
        )

    def _case_images(self, case_id: int, images) -> tuple[ImagePart, ...]:
        if case_id not in self._images:
            if len(self._images) > 200:
                self._images.clear()
            self._images[case_id] = image_parts(images)
        return self._images[case_id]

    def _next_step(self, talk: Dialogue) -> Step:
        if not talk.turns or talk.turns[-1][0] == MODEL:
            request = dialogue.patient_request(
                caller=talk.patient,
                prompt=self.run.prompts["patient"],
                persona=talk.persona,
                images=talk.images,
                turns=talk.turns,
            )
            role, caller = PATIENT, talk.patient
            estimate = self.run.patient_cost_of(**self._tokens(request))
        else:
            request = dialogue.model_request(
                caller=talk.model,
                prompt=self.run.prompts["model"],
                condition=talk.item.condition,
                case=talk.item.case,
                summary=talk.summary,
                images=talk.images,
                turns=talk.turns,
            )
            role, caller = MODEL, talk.model
            estimate = talk.endpoint.cost_of(**self._tokens(request))
        return Step(role, caller, request, request.cache_key(provider=caller.provider), estimate)

    @staticmethod
    def _tokens(request) -> dict:
        text = len(request.system) + sum(len(m.text) for m in request.messages)
        images = sum(len(m.images) for m in request.messages)
        output = min(int(request.parameters.get("max_tokens", OUTPUT_TOKENS_GUESS)), OUTPUT_TOKENS_GUESS)
        return {"input_tokens": text // 4 + images * IMAGE_TOKENS, "output_tokens": output}

    # -- moving a conversation forward
    def _advance(self, talk: Dialogue) -> None:
        """Play turns from the cache until the conversation needs a provider call (queued) or is over (stored)."""
        while not talk.ended_by:
            talk.step = self._next_step(talk)
            entry = CacheEntry.objects.filter(key=talk.step.cache_key).first()
            if entry is None:
                if talk.step.cache_key in self.waiting:  # the same request is in flight for another conversation
                    self.waiting[talk.step.cache_key].append(talk)
                else:
                    self.waiting[talk.step.cache_key] = []
                    self.ready.append(talk)
                return
            if not self._take(talk, cached_reply(entry), cached=True, outcome=None):
                return
        self._store(talk)

    def _take(self, talk: Dialogue, reply: ProviderReply, *, cached: bool, outcome: Outcome | None) -> bool:
        """Record a reply and add it as the next turn. False when the conversation failed on it."""
        step = talk.step
        text, ended = dialogue.split_end(reply.text)
        turn = len(talk.turns)
        if not text and not (ended and step.role == PATIENT and turn > 0):
            self._fail_talk(talk, f"the {step.role} side sent an empty reply at turn {turn + 1}")
            return False
        tokens = {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens}
        if cached:
            cost = Decimal("0")
        elif step.role == PATIENT:
            cost = self.run.patient_cost_of(**tokens)
        else:
            cost = talk.endpoint.cost_of(**tokens)
        with transaction.atomic():
            if not cached:
                entry = cache_entry(
                    key=step.cache_key,
                    provider=step.caller.provider,
                    model_id=step.caller.model_id,
                    reply=reply,
                    origin=talk.item.key,
                )
                CacheEntry.objects.bulk_create([entry], ignore_conflicts=True)
            # A turn replayed after a crash keeps the record of the call that paid for it.
            GenerationCall.objects.get_or_create(
                item=talk.item,
                turn=turn,
                defaults={
                    "role": step.role,
                    "provider": step.caller.provider,
                    "model_id": step.caller.model_id,
                    "parameters": step.caller.parameters,
                    "cache_key": step.cache_key,
                    **tokens,
                    "cost": cost,
                    "latency_ms": reply.latency_ms,
                    "request_id": reply.request_id,
                    "cached": cached,
                    "attempts": outcome.calls if outcome else 0,
                },
            )
        self.spent += cost
        if cached:
            self.stats.cached += 1
        if text:
            talk.turns.append((step.role, text))
        talk.step = None
        if step.role == PATIENT and ended and turn > 0:
            talk.ended_by = "patient"
        elif step.role == MODEL and ended:
            talk.ended_by = "model"
        elif step.role == MODEL and talk.exchanges >= self.run.max_turns:
            talk.ended_by = "max_turns"
        return True

    # -- storing and failing
    def _store(self, talk: Dialogue) -> None:
        """The finished conversation as Conversation + Turns and the item done, in one transaction."""
        item, run = talk.item, self.run
        key = conversation_key(
            run_id=run.pk, case_key=item.case.key, model_key=item.model.key, condition=item.condition
        )
        try:
            bundle_key(key)
        except Exception:  # noqa: BLE001 — a ValidationError; the message names the rule
            self._fail_talk(talk, f"conversation key {key!r} is not a valid bundle id (too long?)")
            return
        totals = self._totals(item)
        provenance = {
            "run": run.pk,
            "item": item.key,
            "condition": item.condition,
            "generated_at": timezone.now().isoformat(),
            "max_turns": run.max_turns,
            "ended_by": talk.ended_by,
            "patient": {
                "provider": talk.patient.provider,
                "model_id": talk.patient.model_id,
                "parameters": talk.patient.parameters,
                "seed": item.patient_seed,
                "sees_image": talk.persona.sees_image,
                "prompt": run.prompts["patient"]["reference"],
                "prompt_sha256": run.prompts["patient"]["sha256"],
            },
            "model": {
                "provider": talk.model.provider,
                "model_id": talk.model.model_id,
                "parameters": talk.model.parameters,
                "prompt": run.prompts["model"]["reference"],
                "prompt_sha256": run.prompts["model"]["sha256"],
                "image_sent": dialogue.SENDS_IMAGE[item.condition] and bool(talk.images),
                "ehr_sent": dialogue.SENDS_EHR[item.condition] and talk.summary is not None,
            },
            "calls": totals["calls"],
            "cached_calls": totals["cached"],
            "cost": str(totals["cost"]),
        }
        extra = {"generation": provenance}
        if talk.endpoint.simulated:
            extra["demo_quality"] = conversation_quality(model=talk.model.model_id, condition=item.condition)
        with transaction.atomic():
            taken = Conversation.objects.filter(key=key).exists()
            if not taken:
                self._write_conversation(talk, key=key, extra=extra, totals=totals)
        if taken:
            self._fail_talk(talk, f"a conversation {key} already exists; generated conversations never overwrite")
            return
        self.active.pop(item.pk, None)
        self.stats.done += 1

    def _write_conversation(self, talk: Dialogue, *, key: str, extra: dict, totals: dict) -> None:
        item = talk.item
        conversation = Conversation.objects.create(
            key=key,
            case=item.case,
            model=item.model,
            condition=item.condition,
            synthetic=talk.endpoint.simulated or self.run.patient_simulated,
            extra=extra,
        )
        Turn.objects.bulk_create(
            Turn(
                conversation=conversation,
                index=index,
                role=Turn.Role.PATIENT if role == PATIENT else Turn.Role.ASSISTANT,
                content=text,
            )
            for index, (role, text) in enumerate(talk.turns)
        )
        self._close_item(
            item, status=GenerationItem.Status.DONE, totals=totals, turns=len(talk.turns), conversation=conversation
        )

    @staticmethod
    def _totals(item: GenerationItem) -> dict:
        return call_totals(item.calls.all())

    def _close_item(
        self, item: GenerationItem, *, status: str, totals: dict, turns: int = 0, conversation=None, error: str = ""
    ):
        now = timezone.now()
        updates = {
            "status": status,
            "turns": turns,
            "provider_calls": totals["fresh"],
            "cached_calls": totals["cached"],
            "input_tokens": totals["input_tokens"],
            "output_tokens": totals["output_tokens"],
            "cost": totals["cost"],
            "lease_until": None,
            "finished_at": now,
            "updated_at": now,
        }
        if conversation is not None:
            updates["conversation"] = conversation
        if error:
            updates["error"] = error
            updates["failures"] = [*item.failures, {"error": error, "at": now.isoformat()}]
        GenerationItem.objects.filter(pk=item.pk).update(**updates)

    def _fail_item(self, item: GenerationItem, message: str) -> None:
        self._close_item(item, status=GenerationItem.Status.FAILED, totals=self._totals(item), error=message)
        self.stats.failed += 1

    def _fail_talk(self, talk: Dialogue, message: str) -> None:
        talk.ended_by = "failed"
        self.active.pop(talk.item.pk, None)
        self._fail_item(talk.item, message)

    def _release(self, talks) -> None:
        """Put unfinished conversations back (cancelled when the run was); their finished turns stay cached."""
        ids = [talk.item.pk for talk in talks]
        cancelled = self.run.status == GenerationRun.Status.CANCELLED
        status = GenerationItem.Status.CANCELLED if cancelled else GenerationItem.Status.PENDING
        leased_work.release(model=GenerationItem, ids=ids, worker=self.worker, status=status)
        self.stats.released += len(ids)

    # -- calls
    def _admit(self, talk: Dialogue) -> bool:
        """Just before a call: False when the run halted or this call could pass the budget."""
        if self.halted:
            return False
        if self.run.budget is not None:
            if self.spent + self.reserved + talk.step.estimate > self.run.budget:
                self.halted = self.budget_hit = True
                return False
            self.reserved += talk.step.estimate
        talk.admitted = True
        return True

    def _send(self, talk: Dialogue) -> None:
        name = talk.step.caller.provider
        self.pools.provider(name)
        if not self._admit(talk):
            self._unwait(talk)
            return
        future = self.pools.submit(name, partial(self.pools.call, name, talk.step.request, policy=self.policy))
        self.inflight[future] = talk

    def _unwait(self, talk: Dialogue) -> None:
        """A call that will not be made: conversations waiting on it ask again when next claimed."""
        self.waiting.pop(talk.step.cache_key, None)

    def _collect(self, future: Future) -> None:
        talk = self.inflight.pop(future)
        outcome: Outcome = future.result()
        if talk.admitted and self.run.budget is not None:
            self.reserved -= talk.step.estimate
        talk.admitted = False
        self.stats.provider_calls += outcome.calls
        followers = self.waiting.pop(talk.step.cache_key, [])
        if outcome.reply is None:
            error = outcome.error or ProviderError("no reply", transient=False)
            self._fail_talk(talk, f"{talk.step.role} call failed: {error}")
            if followers:  # not their failure: the first asks again for all of them
                self.ready.append(followers[0])
                self.waiting[talk.step.cache_key] = followers[1:]
            return
        if self._take(talk, outcome.reply, cached=False, outcome=outcome):
            self._advance(talk)
        for follower in followers:
            if self._take(follower, outcome.reply, cached=True, outcome=None):
                self._advance(follower)

    # -- the loop
    def _refresh(self) -> None:
        self.run.refresh_from_db(fields=["status", "budget"])
        if self.run.budget is not None:  # other workers spend too
            self.spent = self._spent_so_far()
        if self.run.status != GenerationRun.Status.RUNNING:
            self.stats.stopped = self.run.status
            self.halted = True

    def _spent_so_far(self) -> Decimal:
        total = GenerationCall.objects.filter(item__run_id=self.run.pk).aggregate(total=Sum("cost"))["total"]
        return total or Decimal("0")

    def _renew_leases(self) -> None:
        leased_work.renew_leases(
            model=GenerationItem, ids=list(self.active), worker=self.worker, lease_seconds=self.lease
        )

    def _stop_for_budget(self) -> None:
        leased_work.stop_for_budget(run=self.run, spent=self._spent_so_far())
        self.stats.stopped = GenerationRun.Status.BUDGET_STOPPED

    def work(self, *, max_items: int | None = None) -> WorkStats:
        """Generate conversations until none is claimable (or ``max_items`` were claimed), the run stops or the
        budget is reached. A crash (an exception that is not an ``Exception``) leaves items leased, as a kill would."""
        exhausted = False
        self.spent = self._spent_so_far()
        last_check = last_renew = monotonic()
        try:
            while True:
                now = monotonic()
                if now - last_check > 0.5 and not self.halted:
                    last_check = now
                    self._refresh()
                if now - last_renew > self.lease / 3:
                    last_renew = now
                    self._renew_leases()
                room = self._capacity() - len(self.active)
                if max_items is not None:
                    room = min(room, max_items - self.stats.claimed)
                if not exhausted and not self.halted and room > 0:
                    ids = leased_work.claim(
                        model=GenerationItem,
                        run_id=self.run.pk,
                        limit=room,
                        worker=self.worker,
                        lease_seconds=self.lease,
                    )
                    self.stats.claimed += len(ids)
                    exhausted = not ids or (max_items is not None and self.stats.claimed >= max_items)
                    for talk in self._prepare(ids):
                        self.active[talk.item.pk] = talk
                        self._advance(talk)
                while self.ready and not self.halted:
                    talk = self.ready.pop(0)
                    try:
                        self._send(talk)
                    except Exception as error:  # noqa: BLE001 — e.g. a provider without its key configured
                        self._unwait(talk)
                        name = talk.step.caller.provider
                        self._fail_talk(talk, f"provider {name} is not usable: {redact(str(error))[:300]}")
                if self.budget_hit and self.stats.stopped != GenerationRun.Status.BUDGET_STOPPED:
                    self._stop_for_budget()
                if not self.inflight and (exhausted or self.halted) and (self.halted or not self.ready):
                    break
                if self.inflight:
                    done, _ = wait(list(self.inflight), timeout=0.1, return_when=FIRST_COMPLETED)
                    for future in done:
                        self._collect(future)
        except Exception:
            self._finish_inflight()
            self._release(list(self.active.values()))
            self._shutdown()
            raise
        except BaseException:
            self._shutdown(wait_for_calls=False)
            raise
        self._release(list(self.active.values()))
        self._shutdown()
        return self.stats

    def _finish_inflight(self) -> None:
        for future in list(self.inflight):
            try:
                self._collect(future)  # calls already made are paid for: keep their replies
            except Exception:  # noqa: BLE001
                log.exception("generation: collecting a call failed")

    def _shutdown(self, *, wait_for_calls: bool = True) -> None:
        self.pools.shutdown(wait=wait_for_calls)


def work(
    *, run_id: int, max_items: int | None = None, providers: dict | None = None, policy: RetryPolicy | None = None
) -> WorkStats:
    run = GenerationRun.objects.get(pk=run_id)
    if run.status != GenerationRun.Status.RUNNING:
        return WorkStats(stopped=run.status)
    return Runner(run, providers=providers, policy=policy).work(max_items=max_items)
