"""Benchmark: the planning projection (:mod:`jury.statistics.planning`) against the simulation.

For each scenario of ``bench/active.py`` and the uniform and active designs, every replication draws a 10 %
clinician budget, computes every model's PPI interval (``ppi_leaderboard``, affine, with the recorded π) and
projects its width after +10 % and +20 % of the conversations more; the same replication is then drawn at 20 % and
30 % and its widths measured. Printed: the mean projected and the mean simulated width at each step, their
ratio, and the mean absolute error of the projection per model and replication.

    .venv/bin/python bench/planning.py [--reps 100] [--resamples 400] [--jobs 2]
"""

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from active import SCENARIOS, _calibrated  # noqa: E402

from jury.statistics.inference import JuryConversations, ppi_leaderboard  # noqa: E402
from jury.statistics.planning import project, variance_parts  # noqa: E402
from jury.statistics.selection import draw, expected_error, selection_probabilities  # noqa: E402
from jury.statistics.simulation import simulate  # noqa: E402

START, STEPS = 0.1, (0.1, 0.2)


def _widths(sim, pi, chosen, resamples, seed) -> np.ndarray:
    clinician = np.full(sim.clinicians.shape, np.nan)
    clinician[chosen] = sim.clinicians[chosen]
    labels = sim.data.labels
    data = JuryConversations.build(
        case=labels.case, model=labels.model, family=labels.family, condition=labels.condition,
        judge_scores=sim.data.judge_scores, clinician=clinician, dimensions=labels.dimensions,
        selection_probability=pi,
    )  # fmt: skip
    board = ppi_leaderboard(data, n_resamples=resamples, seed=seed)
    rows = {e.name: (e.ppi.ci[1] - e.ppi.ci[0]) if e.ppi.ci else np.nan for e in board.table()}
    return np.array([rows[f"model-{m}"] for m in range(8)])


def replicate(name: str, design: str, seed: int, resamples: int) -> np.ndarray:
    """Rows: models; columns: projected +10 %, +20 %, simulated at 20 %, 30 %."""
    sim = simulate(SCENARIOS[name], seed=seed)
    x = sim.data.judge_scores
    n = x.shape[0]
    error = expected_error(x)
    model = np.array([int(m.split("-")[1]) for m in sim.data.labels.model])
    pi = selection_probabilities(design, judge_scores=x, budget=START * n, error=error)
    chosen, pi = draw(pi, seed=seed + 7919)
    now = _widths(sim, pi, chosen, resamples, seed)
    y = np.full(n, np.nan)
    y[chosen] = sim.clinicians[chosen, 0]
    h = np.where(np.isnan(y), np.nan, 1 / pi)
    f = _calibrated(x[:, :, 0], y, np.nan_to_num(h, nan=1.0))
    case = np.array(sim.data.labels.case)
    parts = variance_parts(calibrated=f, clinician=y, weight=h, row=model, n_rows=8, case=case)
    unscored = np.isnan(y)
    share = np.bincount(model[unscored], weights=pi[unscored], minlength=8) / pi[unscored].sum()
    projected = project(parts, width=now, share=share, extra=[round(s * n) for s in STEPS])
    simulated = []
    for step in STEPS:
        later = selection_probabilities(design, judge_scores=x, budget=(START + step) * n, error=error)
        picked, later = draw(later, seed=seed + 7919)
        simulated.append(_widths(sim, later, picked, resamples, seed))
    return np.column_stack([projected, *simulated])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--resamples", type=int, default=400)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    print(f"{args.reps} replications × 8 models, {args.resamples} resamples; from a {START:.0%} budget")
    print(f"{'scenario':<8} {'design':<8} {'more':>5} {'projected':>9} {'simulated':>9} {'ratio':>6} {'MAE':>6}")
    for name in ("even", "uneven"):  # one scenario of each kind: the planning is the same machinery in all
        for design in ("uniform", "active"):
            with ProcessPoolExecutor(args.jobs) as pool:
                runs = list(pool.map(replicate, [name] * args.reps, [design] * args.reps, range(args.reps),
                                     [args.resamples] * args.reps))  # fmt: skip
            table = np.stack(runs)  # reps × models × 4
            for i, step in enumerate(STEPS):
                p, s = table[:, :, i], table[:, :, len(STEPS) + i]
                ok = np.isfinite(p) & np.isfinite(s)
                print(
                    f"{name:<8} {design:<8} {step:>+5.0%} {p[ok].mean():9.3f} {s[ok].mean():9.3f} "
                    f"{p[ok].mean() / s[ok].mean():6.3f} {np.abs(p[ok] - s[ok]).mean():6.3f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
