"""The dry run of a jury run: items, how many the cache already answers, tokens and money for the rest."""

from decimal import Decimal

from django.utils import timezone

from engine.models import CacheEntry
from jury.models import JuryRun, WorkItem
from jury.requests import RequestBuilder, estimate_tokens


def estimate_run(*, run: JuryRun) -> dict:
    """Dry run: items, how many the cache already answers, tokens and money for the rest. Stored on the run.

    It is long because the totals per run and per judge are accumulated in one pass over the items, a thousand at a
    time, which keeps a large run's estimate in bounded memory."""
    builder = RequestBuilder()
    ids = list(run.items.order_by("id").values_list("id", flat=True))
    totals = {
        "items": 0,
        "cached": 0,
        "calls": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cost": Decimal("0"),
        "unbuildable": 0,
    }
    first_error = ""
    per_judge: dict[str, dict] = {}
    keys = {}
    for start in range(0, len(ids), 1000):
        chunk = list(WorkItem.objects.filter(id__in=ids[start : start + 1000]))
        builder.attach(chunk)
        built = {}
        for item in chunk:
            try:
                request = builder.build(
                    conversation=item.conversation,
                    judge=item.judge,
                    prompt=item.prompt,
                    dimension=item.dimension,
                    sample=item.sample_index,
                )
            except ValueError as error:
                totals["unbuildable"] += 1
                first_error = first_error or str(error)
                continue
            built[item.pk] = (item, request)
            keys[item.pk] = request.cache_key(provider=item.judge.provider, sample_index=item.sample_index)
        cached = set(CacheEntry.objects.filter(key__in=[keys[pk] for pk in built]).values_list("key", flat=True))
        for pk, (item, request) in built.items():
            totals["items"] += 1
            judge_totals = per_judge.setdefault(
                item.judge.key, {"items": 0, "calls": 0, "input_tokens": 0, "output_tokens": 0, "cost": Decimal("0")}
            )
            judge_totals["items"] += 1
            if keys[pk] in cached:
                totals["cached"] += 1
                continue
            tokens_in, tokens_out = estimate_tokens(request, item.judge)
            cost = item.judge.cost_of(input_tokens=tokens_in, output_tokens=tokens_out)
            for bucket in (totals, judge_totals):
                bucket["calls"] += 1
                bucket["input_tokens"] += tokens_in
                bucket["output_tokens"] += tokens_out
                bucket["cost"] += cost
    estimate = {
        **{k: (str(v) if isinstance(v, Decimal) else v) for k, v in totals.items()},
        "judges": {
            k: {n: (str(v) if isinstance(v, Decimal) else v) for n, v in t.items()} for k, t in per_judge.items()
        },
        "at": timezone.now().isoformat(),
        "error": first_error,
        "note": "tokens estimated at 4 characters a token and 1,600 per image; output at up to 300 tokens a call",
    }
    JuryRun.objects.filter(pk=run.pk).update(estimate=estimate)
    run.estimate = estimate
    return estimate
