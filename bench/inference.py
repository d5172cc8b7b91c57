"""Benchmark: coverage, width and RMSE of the leaderboard's 95 % intervals on simulated data with a known truth.

For every scenario of :mod:`jury.statistics.simulation` (a jury with one global bias, with a per-model bias,
with an own-family preference; 60 and 150 cases; clinicians scoring 10 %, 20 % or 30 % of the conversations;
one more with recorded non-uniform selection probabilities) and every replication, the model means of
``inference.ppi_leaderboard`` are compared with the truth for four estimators: the jury only (calibration held
fixed, as today's leaderboard), the clinicians only, prediction-powered (PPI), and an oracle where every
conversation is clinician-scored. Coverage and width count the intervals that exist (fewer than 10
clinician-scored conversations: no clinician-based interval; the column "defined" says how many did).
Then the time of the full leaderboard (3 conditions, 3 dimensions, 8 models, 500 cases, 12,000 conversations,
20 % clinician-scored, 2,000 resamples with refits) for each calibration method.

    .venv/bin/python bench/inference.py [--reps 200] [--resamples 1000] [--method affine] [--quick] [--jobs 2]
"""

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jury.statistics.inference import INFERENCE_METHODS, ppi_leaderboard  # noqa: E402
from jury.statistics.simulation import Scenario, simulate  # noqa: E402

ESTIMATORS = ("jury", "clinicians", "ppi", "oracle")


def scenarios() -> list[Scenario]:
    grid = [
        Scenario(bias=bias, n_cases=cases, clinician_fraction=fraction)
        for bias in ("global", "per_model", "own_family")
        for cases in (60, 150)
        for fraction in (0.1, 0.2, 0.3)
    ]
    return [*grid, Scenario(bias="per_model", n_cases=150, clinician_fraction=0.2, ipw=True)]


def replicate(scenario: Scenario, seed: int, resamples: int, method: str) -> dict[str, list[tuple]]:
    """Per estimator: (covered, width, error) of every model interval that exists, for one replication."""
    sim = simulate(scenario, seed=seed)
    truth = sim.truth[("full", scenario.dimensions[0])]
    board = ppi_leaderboard(sim.data, n_resamples=resamples, seed=seed, method=method)
    oracle = {e.name: e.clinicians for e in ppi_leaderboard(sim.oracle, n_resamples=resamples, seed=seed).table()}
    out = {name: [] for name in ESTIMATORS}
    out["n_models"] = []
    for estimate in board.table():
        true = truth[estimate.name]
        out["n_models"].append(1)
        for name, stat in (
            ("jury", estimate.jury),
            ("clinicians", estimate.clinicians),
            ("ppi", estimate.ppi),
            ("oracle", oracle[estimate.name]),
        ):
            if stat.ci is not None:
                out[name].append((stat.ci[0] <= true <= stat.ci[1], stat.ci[1] - stat.ci[0], stat.value - true))
    return out


def run(scenario: Scenario, *, reps: int, resamples: int, method: str, jobs: int) -> dict:
    with ProcessPoolExecutor(jobs) as pool:
        results = list(pool.map(replicate, [scenario] * reps, range(reps), [resamples] * reps, [method] * reps))
    total = sum(len(r["n_models"]) for r in results)
    summary = {"defined": sum(len(r["ppi"]) for r in results) / total}
    for name in ESTIMATORS:
        rows = np.array([row for r in results for row in r[name]], dtype=float).reshape(-1, 3)
        if rows.size == 0:
            summary[name] = (np.nan, np.nan, np.nan)
            continue
        summary[name] = (rows[:, 0].mean(), rows[:, 1].mean(), float(np.sqrt((rows[:, 2] ** 2).mean())))
    return summary


def speed(method: str, resamples: int) -> float:
    scenario = Scenario(n_cases=500, conditions=("full", "no_image", "no_ehr"), dimensions=("s", "a", "u"))
    data = simulate(scenario, seed=0).data
    started = time.perf_counter()
    for condition in scenario.conditions:
        ppi_leaderboard(data, condition=condition, n_resamples=resamples, seed=0, method=method)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--method", choices=INFERENCE_METHODS, default="affine")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="20 replications of 400 resamples, four scenarios")
    args = parser.parse_args()
    chosen = scenarios()
    if args.quick:
        args.reps, args.resamples = min(args.reps, 20), 400
        chosen = [chosen[1], chosen[10], chosen[16], chosen[-1]]
    print(f"{args.reps} replications × 8 models, {args.resamples} resamples, calibration {args.method!r}")
    print("coverage % / mean width / RMSE of nominal 95 % intervals for the 8 model means (condition full)")
    header = f"{'scenario':<34} {'defined':>7}" + "".join(f" {name:>20}" for name in ESTIMATORS) + "  PPI/clin width"
    print(header)
    ratios, misses = [], []
    for scenario in chosen:
        s = run(scenario, reps=args.reps, resamples=args.resamples, method=args.method, jobs=args.jobs)
        cells = "".join(f" {100 * c:6.1f} {w:6.3f} {e:6.3f}" for c, w, e in (s[name] for name in ESTIMATORS))
        ratio = s["ppi"][1] / s["clinicians"][1] if s["defined"] else np.nan
        print(f"{scenario.label:<34} {100 * s['defined']:6.0f}%{cells}  {ratio:6.3f}", flush=True)
        if s["defined"]:
            ratios.append(ratio)
            if not 0.93 <= s["ppi"][0] <= 0.97:
                misses.append(scenario.label)
    print(f"PPI/clinicians-only width: mean {np.mean(ratios):.3f}, max {np.max(ratios):.3f} (goal ≤ 0.85, never > 1)")
    print(f"PPI coverage outside [93 %, 97 %]: {', '.join(misses) if misses else 'none'}")
    for method in INFERENCE_METHODS:
        seconds = speed(method, 2000)
        print(f"full leaderboard, 12,000 conversations, 3 conditions × 3 dimensions, 2,000 resamples with refits, "
              f"{method}: {seconds:.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
