"""Benchmark: Krippendorff's α (ordinal) plus a 1,000-resample bootstrap on simulated 1–5 ratings.

5 raters, 30 % of ratings missing, 10,000 and 100,000 units (and 1,000 clusters of 10 units for the cluster
bootstrap). Prints wall-clock seconds and the peak memory traced by tracemalloc during each run, then the same
for 4,000 resamples to show that memory does not grow with the number of resamples. ``--naive`` also times
the loop that calls ``krippendorff.alpha`` on each resample (slow: about 10 s for 10,000 units).

    .venv/bin/python bench/agreement.py [--naive]
"""

import argparse
import sys
import time
import tracemalloc
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jury.statistics.agreement import bootstrap, krippendorff_alpha  # noqa: E402

SCALE = [1, 2, 3, 4, 5]


def simulated(units: int, *, raters: int = 5, missing: float = 0.3, seed: int = 0) -> np.ndarray:
    """Each unit has a true score 1–5; each rater adds noise of ±1 about a third of the time."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 6, size=(units, 1))
    ratings = np.clip(truth + rng.choice([-1, 0, 0, 1], size=(units, raters)), 1, 5).astype(float)
    ratings[rng.random((units, raters)) < missing] = np.nan
    return ratings


def timed(label: str, function) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    result = function()
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"{label:<58} {seconds:7.3f} s  peak {peak / 2**20:7.1f} MiB  α={result.value:.4f} ci={result.ci}")


def naive(ratings: np.ndarray, n_resamples: int):
    import krippendorff

    rng = np.random.default_rng(0)
    values = []
    for _ in range(n_resamples):
        sample = ratings[rng.integers(0, ratings.shape[0], ratings.shape[0])]
        values.append(krippendorff.alpha(sample.T, level_of_measurement="ordinal", value_domain=SCALE))
    low, high = np.quantile(values, [0.025, 0.975])
    return type("Result", (), {"value": float(np.mean(values)), "ci": (float(low), float(high))})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--naive", action="store_true", help="also time the per-resample krippendorff.alpha loop")
    args = parser.parse_args()
    alpha = partial(krippendorff_alpha, level="ordinal", value_domain=SCALE)
    for units in (10_000, 100_000):
        ratings = simulated(units)
        for resamples in (1000, 4000):
            timed(
                f"α ordinal + {resamples} resamples, {units:,} units × 5",
                lambda r=ratings, n=resamples: bootstrap(r, alpha, n_resamples=n, seed=1),
            )
        clusters = np.arange(units) // 10
        timed(
            f"α ordinal + 1000 cluster resamples, {units // 10:,} clusters",
            lambda r=ratings, c=clusters: bootstrap(r, alpha, n_resamples=1000, clusters=c, seed=1),
        )
    if args.naive:
        ratings = simulated(10_000)
        timed("naive loop: krippendorff.alpha per resample, 10,000 units", lambda: naive(ratings, 1000))


if __name__ == "__main__":
    main()
