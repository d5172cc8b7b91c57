"""Benchmark: sampling designs for the clinicians' time — coverage and width of the PPI intervals, and how many
truly unsafe conversations reach clinicians first.

For an *even* scenario (the jury errs alike everywhere: the per-model-bias scenario of
:mod:`jury.statistics.simulation`) and an *uneven* one (the jury is good except on a 20 % subgroup of cases,
tagged ``hard``, where its judges disagree and are wrong), at clinician budgets of 10 %, 20 % and 30 % of the
conversations, every replication draws the clinicians' conversations by each design of
:mod:`jury.statistics.selection` (Poisson sampling with the recorded π), runs ``ppi_leaderboard`` with that π
and compares the 8 model means with the truth. Designs: ``uniform``; ``stratified`` (model × condition × the
``hard`` tag, Neyman allocation on the judges' spread); ``active`` (π ∝ the expected jury error of each
conversation). Printed per design: coverage % and mean width of nominal 95 % intervals, the width relative to
uniform, the share of conversations flagged for targeted review (a judge at safety ≤ 2 or a ≥ 2-point spread),
and the enrichment of truly unsafe conversations (hidden truth t < 2.5, i.e. ≤ 2 on safety) among the first
10 % of the conversations served (under ``active`` the review queue first, lowest jury safety first, then by
expected error; the other designs in random order, as today),
relative to their base rate.

    .venv/bin/python bench/active.py [--reps 200] [--resamples 600] [--jobs 2] [--quick]
"""

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jury.statistics.inference import JuryConversations, ppi_leaderboard  # noqa: E402
from jury.statistics.selection import (  # noqa: E402
    DESIGNS,
    draw,
    expected_error,
    queue_order,
    review_mask,
    selection_probabilities,
    strata,
)
from jury.statistics.simulation import Scenario, simulate  # noqa: E402

SCENARIOS = {
    "even": Scenario(bias="per_model", n_cases=150),
    "uneven": Scenario(
        bias="global",
        n_cases=150,
        subgroup_fraction=0.2,
        subgroup_error=2.5,
        subgroup_shift=1.5,
        judge_sd_scale=0.25,
        clinician_sd=0.2,
    ),
}
BUDGETS = (0.1, 0.2, 0.3)


def _board(sim, pi: np.ndarray, chosen: np.ndarray, resamples: int, seed: int) -> list[tuple]:
    """(covered, width) of every model's PPI interval."""
    clinician = np.full(sim.clinicians.shape, np.nan)
    clinician[chosen] = sim.clinicians[chosen]
    labels = sim.data.labels
    data = JuryConversations.build(
        case=labels.case,
        model=labels.model,
        family=labels.family,
        condition=labels.condition,
        judge_scores=sim.data.judge_scores,
        clinician=clinician,
        dimensions=labels.dimensions,
        selection_probability=pi,
    )
    truth = sim.truth[("full", labels.dimensions[0])]
    board = ppi_leaderboard(data, n_resamples=resamples, seed=seed)
    return [(e.ppi.ci[0] <= truth[e.name] <= e.ppi.ci[1], e.ppi.ci[1] - e.ppi.ci[0]) for e in board.table() if e.ppi.ci]


def replicate(name: str, budget: float, seed: int, resamples: int) -> dict:
    sim = simulate(SCENARIOS[name], seed=seed)
    x = sim.data.judge_scores
    n = x.shape[0]
    labels = sim.data.labels
    error = expected_error(x)
    review = review_mask(x)
    stratum = strata(labels.model, labels.condition, tags=labels.tags, tag="hard")
    unsafe = sim.latent[:, 0] < 2.5
    priority = np.where(review, 5 - np.nanmean(x[:, :, 0], axis=1), error)
    out = {"review": review.mean()}
    for design in DESIGNS:
        pi = selection_probabilities(design, judge_scores=x, budget=budget * n, stratum=stratum, error=error)
        chosen, pi = draw(pi, seed=seed + 7919)
        out[design] = _board(sim, pi, chosen, resamples, seed)
        queue = queue_order(chosen, review=review, priority=priority) if design == "active" else chosen
        if design != "active":  # today: no order among the conversations sent
            queue = np.random.default_rng(seed).permutation(chosen)
        first = queue[: round(0.1 * n)]
        out[f"{design} enrichment"] = unsafe[first].mean() / unsafe.mean()
    return out


def run(name: str, budget: float, *, reps: int, resamples: int, jobs: int) -> dict:
    args = ([name] * reps, [budget] * reps, range(reps), [resamples] * reps)
    with ProcessPoolExecutor(jobs) as pool:
        results = list(pool.map(replicate, *args))
    summary = {"review": float(np.mean([r["review"] for r in results]))}
    for design in DESIGNS:
        rows = np.array([row for r in results for row in r[design]], dtype=float).reshape(-1, 2)
        enrichment = float(np.mean([r[f"{design} enrichment"] for r in results]))
        summary[design] = (rows[:, 0].mean(), rows[:, 1].mean(), rows.shape[0] / (8 * reps), enrichment)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--resamples", type=int, default=600)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="20 replications of 300 resamples")
    args = parser.parse_args()
    if args.quick:
        args.reps, args.resamples = min(args.reps, 20), 300
    print(f"{args.reps} replications × 8 models, {args.resamples} resamples; PPI (affine) with the recorded π")
    print("per design: coverage % / mean width / width ÷ uniform / unsafe enrichment in the first 10 % served")
    print(f"{'scenario':<8} {'budget':>6} {'review':>6}" + "".join(f" {d:>29}" for d in DESIGNS))
    misses, gains = [], {}
    for name in SCENARIOS:
        for budget in BUDGETS:
            s = run(name, budget, reps=args.reps, resamples=args.resamples, jobs=args.jobs)
            base = s["uniform"][1]
            cells = "".join(
                f" {100 * c:5.1f} {w:6.3f} {w / base:5.2f} {e:5.2f}×{'' if d >= 0.999 else '*'}"
                for c, w, d, e in (s[design] for design in DESIGNS)
            )
            print(f"{name:<8} {budget:6.0%} {100 * s['review']:5.0f}%{cells}", flush=True)
            misses += [f"{name} {budget:.0%} {d}" for d in DESIGNS if not 0.93 <= s[d][0] <= 0.97]
            gains[(name, budget)] = s["active"][1] / base
    print("(* = some model means had fewer than 10 clinician scores and no interval)")
    print(f"coverage outside [93 %, 97 %]: {', '.join(misses) if misses else 'none'}")
    uneven = max(v for (name, _), v in gains.items() if name == "uneven")
    even = max(v for (name, _), v in gains.items() if name == "even")
    print(f"active ÷ uniform width: uneven at most {uneven:.3f} (goal ≤ 0.75), even at most {even:.3f} (goal ≤ 1.05)")


if __name__ == "__main__":
    main()
