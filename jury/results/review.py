"""Targeted review as the campaign page lists it: every conversation a selection sent to review (π = 1, recorded
with its ``Selection``), in the order the campaign's queue serves it to clinicians, why the jury flagged it (a
judge at safety ≤ 2, or the judges' safety scores 2 or more points apart: :func:`selection.review_rules` on each
judge's score, its prompt variants and samples averaged, as the draw), each judge's safety score with its reason,
and how many of its k clinician scores it has.

A page of the list is four queries whatever the campaign's size: the count, the page's entries (conversation,
case and model joined; submitted scores and live leases counted in subqueries), the judgements of the page's
conversations, and the number done.
"""

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from django.core.paginator import Page, Paginator
from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, F, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from annotation.models import QUEUE_RANK, Annotation, Assignment, Campaign, Conversation, QueueEntry, Selection
from jury.models import Judgement
from jury.statistics import selection

DIMENSION = "safety"  # targeted review is decided on safety (jury.results.selection.select_for_clinicians)
PER_PAGE = 10
SHOW_ALL = 4  # a jury of at most this many judge × prompt columns is shown whole
REASON_PREVIEW = 320  # characters of a reason shown before "the full reason"


@dataclass(frozen=True)
class JudgeScore:
    """One judge × prompt's safety score on the conversation (the mean of its samples) and its reasons."""

    judge: str
    prompt: str  # key@version
    score: float
    samples: int
    reasons: list[str]
    unsafe: bool  # at or below the review threshold

    @property
    def prompt_name(self) -> str:
        key, _, version = self.prompt.rpartition("@")
        return f"{key} v{version}"


@dataclass(frozen=True)
class ReviewItem:
    conversation: Conversation  # with case and model
    unsafe: bool  # a judge at safety ≤ UNSAFE_AT now
    disagree: bool  # the judges DISAGREEMENT or more points apart now
    lowest: float | None
    highest: float | None
    judges: list[JudgeScore] = field(default_factory=list)
    submitted: int = 0
    overlap: int = 1
    in_progress: bool = False

    @property
    def done(self) -> bool:
        return self.submitted >= self.overlap

    @property
    def spread(self) -> float | None:
        return None if self.lowest is None else self.highest - self.lowest

    @property
    def shown(self) -> list[JudgeScore]:
        """The judgements that put it in review, shown first: every one at safety ≤ the threshold, and for the
        spread one at the lowest and one at the highest score (a jury of up to ``SHOW_ALL`` judgements: all)."""
        if len(self.judges) <= SHOW_ALL:
            return self.judges
        keep = [j for j in self.judges if j.unsafe] if self.unsafe else []
        if self.disagree:
            keep += [j for j in (self.judges[0], self.judges[-1]) if j not in keep]
        return sorted(keep, key=self.judges.index) or self.judges

    @property
    def others(self) -> list[JudgeScore]:
        shown = self.shown
        return [j for j in self.judges if j not in shown]


def _entries(campaign: Campaign):
    """The campaign's queue entries recorded for review, with their submitted scores and live leases counted, in
    the order clinicians are served them: open entries in the queue's own order (fewest slots taken, then the
    design's review flag and priority, then the seeded shuffle: ``annotation.queue``), then those whose every slot
    is leased, then the done ones."""
    submitted = (
        Annotation.objects.filter(
            campaign=campaign, conversation=OuterRef("conversation"), status=Annotation.Status.SUBMITTED
        )
        .order_by()
        .values("conversation")
        .annotate(n=Count("annotator", distinct=True))
        .values("n")
    )
    reviewed = Selection.objects.filter(campaign=campaign, conversation=OuterRef("conversation"), review=True)
    leased = Assignment.objects.filter(
        campaign=campaign, conversation=OuterRef("conversation"), state=Assignment.State.ACTIVE
    )
    return (
        QueueEntry.objects.filter(campaign=campaign)
        .filter(Exists(reviewed))
        .annotate(
            submitted=Coalesce(Subquery(submitted, output_field=IntegerField()), 0),
            leased=Exists(leased),
        )
        .annotate(done=ExpressionWrapper(Q(submitted__gte=campaign.overlap), output_field=BooleanField()))
    )


def _judge_scores(conversation_ids: list[int]) -> dict[int, list[JudgeScore]]:
    """Per conversation, each judge × prompt's safety score (samples averaged) with its reasons, lowest first."""
    rows = (
        Judgement.objects.filter(
            conversation_id__in=conversation_ids,
            dimension=DIMENSION,
            status=Judgement.Status.SCORED,
            score__isnull=False,
        )
        .order_by("sample_index")
        .values_list("conversation_id", "judge__key", "judge__name", "prompt__key", "prompt__version", "score",
                     "rationale")
    )  # fmt: skip
    grouped: dict[tuple, list[tuple[int, str]]] = defaultdict(list)
    for conversation_id, key, name, prompt, version, score, rationale in rows:
        grouped[(conversation_id, name or key, f"{prompt}@{version}")].append((score, rationale.strip()))
    out: dict[int, list[JudgeScore]] = defaultdict(list)
    for (conversation_id, judge, prompt), samples in grouped.items():
        score = float(np.mean([s for s, _ in samples]))
        reasons = [reason for _, reason in samples if reason]
        out[conversation_id].append(
            JudgeScore(judge, prompt, score, len(samples), reasons, unsafe=score <= selection.UNSAFE_AT)
        )
    for scores in out.values():
        scores.sort(key=lambda s: (s.score, s.judge, s.prompt))
    return out


def _item(entry: QueueEntry, judges: list[JudgeScore], overlap: int) -> ReviewItem:
    if judges:
        means = selection.judge_means([[j.score for j in judges]], judge_of=[j.judge for j in judges])
        unsafe, disagree = (bool(rule[0]) for rule in selection.review_rules(means))
        lowest, highest = float(np.nanmin(means)), float(np.nanmax(means))
    else:
        unsafe = disagree = False
        lowest = highest = None
    return ReviewItem(
        conversation=entry.conversation,
        unsafe=unsafe,
        disagree=disagree,
        lowest=lowest,
        highest=highest,
        judges=judges,
        submitted=entry.submitted,
        overlap=overlap,
        in_progress=entry.leased,
    )


def review_list(*, campaign: Campaign, page: int | str | None = 1, per_page: int = PER_PAGE) -> dict:
    """One page of the campaign's targeted-review conversations (``page``: a page number, anything else the
    first or last page as :meth:`Paginator.get_page` reads it), and how many there are and are done."""
    entries = _entries(campaign)
    ordered = entries.select_related("conversation__case", "conversation__model").order_by(
        F("is_open").desc(), "done", *QUEUE_RANK, "conversation_id"
    )
    current: Page = Paginator(ordered, per_page).get_page(page)
    on_page = list(current.object_list)
    scores = _judge_scores([entry.conversation_id for entry in on_page]) if on_page else {}
    total = current.paginator.count
    done = entries.filter(done=True).count() if total else 0
    return {
        "review_page": current,
        "review_items": [_item(e, scores.get(e.conversation_id, []), campaign.overlap) for e in on_page],
        "review_total": total,
        "review_done": done,
        "served_first": campaign.sampling_design == Campaign.SamplingDesign.ACTIVE,
        "unsafe_at": selection.UNSAFE_AT,
        "disagreement": selection.DISAGREEMENT,
        "reason_preview": REASON_PREVIEW,
    }
