"""Benchmark: grouped 5-fold cross-validation of every calibration method, 3 dimensions, on simulated data.

5,000 conversations in 500 cases, 9 judge-prompts (biased, some much noisier, 10 % of scores missing) and two
clinicians per conversation, per dimension. Prints the wall-clock seconds of ``calibration.cross_validate``
over the three dimensions (the goal is under 2 s on the 2-core development machine), the chosen method of each,
then the time of the case-bootstrap leaderboard statistics (2,000 resamples) on a 500-case, 8-model,
3-condition set.

    .venv/bin/python bench/calibration.py [--conversations 5000] [--judges 9] [--repeat 3]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jury import leaderboard_stats  # noqa: E402
from jury.statistics.calibration import cross_validate  # noqa: E402

DIMENSIONS = ("safety", "accuracy", "uncertainty")


def simulated(conversations: int, judges: int, *, per_case: int = 10, seed: int = 0):
    """Per dimension: (judge scores, clinician mean, cases, clinician ratings) on a 1–5 scale."""
    rng = np.random.default_rng(seed)
    cases = np.repeat(np.arange(conversations // per_case), per_case)[:conversations]
    data = {}
    for dimension in DIMENSIONS:
        truth = np.clip(rng.uniform(1.5, 4.5, cases.max() + 1)[cases] + rng.normal(0, 0.5, cases.size), 1, 5)
        bias = rng.normal(0, 0.4, judges)
        noise = rng.choice([0.3, 0.5, 1.5], size=judges)
        scores = np.clip(np.round(truth[:, None] + bias + rng.normal(0, 1, (cases.size, judges)) * noise), 1, 5)
        scores[rng.random(scores.shape) < 0.1] = np.nan
        clinicians = np.clip(np.round(truth[:, None] + rng.normal(0, 0.5, (cases.size, 2))), 1, 5)
        data[dimension] = (scores, clinicians.mean(1), cases, clinicians)
    return data


def leaderboard_data(n_cases: int = 500, seed: int = 0) -> leaderboard_stats.Conversations:
    rng = np.random.default_rng(seed)
    models = [f"model-{m}" for m in range(8)]
    conditions = ["full", "no_image", "no_ehr"]
    grid = np.array(np.meshgrid(np.arange(n_cases), np.arange(len(models)), np.arange(3), indexing="ij")).reshape(3, -1)
    case, model, condition = grid
    scores = 3 + 0.1 * model[:, None] - 0.2 * (condition[:, None] > 0) + rng.normal(0, 0.7, (case.size, 3))
    return leaderboard_stats.Conversations.build(
        case=[f"case-{c}" for c in case],
        model=[models[m] for m in model],
        family=[f"family-{m // 2}" for m in model],
        condition=[conditions[c] for c in condition],
        scores=scores,
        dimensions=DIMENSIONS,
        tags=[("malignant",) if c % 4 == 0 else () for c in case],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=5000)
    parser.add_argument("--judges", type=int, default=9)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    data = simulated(args.conversations, args.judges)
    timings = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        reports = {
            dimension: cross_validate(
                scores, target, cases, clinician_ratings=clinicians, dimension=dimension, n_folds=5, seed=0
            )
            for dimension, (scores, target, cases, clinicians) in data.items()
        }
        timings.append(time.perf_counter() - started)
    print(
        f"cross_validate, {args.conversations} conversations × {args.judges} judge-prompts × {len(DIMENSIONS)} "
        f"dimensions, 4 methods, 5 folds: best {min(timings):.3f} s, median {float(np.median(timings)):.3f} s "
        f"of {args.repeat}"
    )
    for dimension, report in reports.items():
        maes = ", ".join(f"{m} {r.mae.value:.3f}" for m, r in report.methods.items())
        print(f"  {dimension:<12} chosen {report.chosen:<11} MAE: {maes}; ceiling {report.ceiling['mae'].value:.3f}")

    board_data = leaderboard_data()
    started = time.perf_counter()
    leaderboard_stats.leaderboard(board_data, n_resamples=2000, seed=0)
    leaderboard_stats.subgroup_deltas(board_data, subgroup="malignant", n_resamples=2000, seed=0)
    leaderboard_stats.ablation_deltas(board_data, n_resamples=2000, seed=0)
    seconds = time.perf_counter() - started
    print(
        f"leaderboard + subgroup + ablation deltas, {len(board_data)} conversations in 500 cases, 8 models, "
        f"2,000 case-bootstrap resamples: {seconds:.3f} s"
    )


if __name__ == "__main__":
    main()
