"""Planning a campaign's clinician time: each leaderboard row's interval width now, projected for more
clinician-scored conversations under the campaign's sampling design, and how many more reach a width the
researcher asks for (:mod:`jury.statistics.planning`).

The widths now are the leaderboard page's (its cached PPI intervals, the first table: the overall of the
dimensions, or the only one). The projection's jury and rectifier terms come from an affine calibration of the
jury mean per dimension fitted with the recorded 1/π weights (the projection borrows only their ratio), and the
next scores fall on the rows in proportion to the design's π of their conversations in the campaign that clinicians
have not scored yet, at most that many per row.
"""

import numpy as np

from annotation.models import Campaign
from jury.results.calibration import dimensions_of
from jury.results.inference import campaign_conversations
from jury.results.reports import leaderboard_report
from jury.statistics import planning, selection
from jury.statistics.inference_bootstrap import mean_present

EXTRA = (50, 100, 200)


def weighted_affine_jury(judge_scores: np.ndarray, clinician: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Conversations × dimensions: the 1/π-weighted affine calibration of the jury mean (NaN where no judge
    scored the dimension)."""
    out = []
    for d in range(clinician.shape[1]):
        mean = mean_present(judge_scores[:, :, d], np.ones(judge_scores.shape[1]))
        ok = ~np.isnan(mean) & ~np.isnan(clinician[:, d])
        if ok.sum() < 2:
            out.append(mean)
            continue
        root = np.sqrt(weight[ok])
        a = np.column_stack([np.ones(ok.sum()), mean[ok]]) * root[:, None]
        beta = np.linalg.lstsq(a, clinician[ok, d] * root, rcond=None)[0]
        out.append(beta[0] + beta[1] * mean)
    return np.column_stack(out)


def _design_share(campaign: Campaign, found, open_: np.ndarray, residual: np.ndarray, rows, n_rows: int):
    """Each row's share of the design's π over the ``open_`` conversations (in the campaign, jury-scored, not yet
    clinician-scored)."""
    data = found.data
    x = data.judge_scores
    if not open_.any():
        return np.zeros(n_rows)
    design = campaign.sampling_design
    labels = data.labels
    if design == Campaign.SamplingDesign.ACTIVE:
        error = selection.predicted_error(x, residual=residual, groups=(labels.case, labels.model))
    else:
        error = selection.expected_error(x)
    tag = campaign.sampling_tag or None
    stratum = selection.strata(labels.model, labels.condition, tags=labels.tags if tag else None, tag=tag)
    local = np.unique(stratum[open_], return_inverse=True)[1]
    pi = selection.selection_probabilities(
        design, judge_scores=x[open_], budget=0.1 * open_.sum(), stratum=local, error=error[open_]
    )
    return np.bincount(rows[open_], weights=pi, minlength=n_rows) / pi.sum()


def campaign_planning(*, campaign: Campaign, half_width: float | None = None) -> dict:
    """The planning panel: per leaderboard row its width now, after +50/+100/+200 clinician-scored conversations
    and, with ``half_width`` (the ± the researcher asks for), how many more reach it. ``problem`` says why
    there is no panel (no jury, no calibration, too few clinician scores)."""
    report = leaderboard_report(campaign=campaign)
    if report.get("problem") or not report.get("model_tables"):
        return {"problem": report.get("problem") or "The leaderboard has no rows yet.", "extra": EXTRA}
    table = report["model_tables"][0]
    estimates = table["rows"]
    dimensions = dimensions_of(campaign)
    found = campaign_conversations(campaign=campaign, dimensions=dimensions)
    data = found.data
    names = [e.name for e in estimates]
    row_of = {name: k for k, name in enumerate(names)}
    labels = data.labels
    pairs = zip(labels.model, labels.condition, strict=True)
    rows = np.array([row_of.get(m, -1) if c == "full" else -1 for m, c in pairs])
    clinician = np.asarray(labels.scores, dtype=float)
    scored = ~np.isnan(clinician).any(axis=1)
    pi = data.selection_probability
    weight = np.where(scored, 1.0 / (np.ones(len(rows)) if pi is None else np.where(scored, pi, 1.0)), np.nan)
    f = weighted_affine_jury(data.judge_scores, clinician, np.nan_to_num(weight, nan=1.0)).mean(axis=1)
    y = np.where(scored, clinician.mean(axis=1), np.nan)
    parts = planning.variance_parts(
        calibrated=f, clinician=y, weight=np.nan_to_num(weight, nan=1.0), row=rows, n_rows=len(names),
        case=np.asarray(labels.case, dtype=object),
    )  # fmt: skip
    members = set(campaign.conversations.values_list("pk", flat=True))
    member = np.array([cid in members for cid in found.conversation_ids])
    open_ = (rows >= 0) & member & np.isnan(y) & ~np.isnan(data.judge_scores).all(axis=(1, 2))
    share = _design_share(campaign, found, open_, y - f, rows, len(names))
    width = np.array([e.ppi.ci[1] - e.ppi.ci[0] if e.ppi.ci else np.nan for e in estimates])
    room = np.bincount(rows[open_], minlength=len(names))
    projected = planning.project(parts, width=width, share=share, extra=EXTRA, room=room)
    needed = None
    if half_width:
        needed = planning.needed(parts, width=width, share=share, target=2 * half_width, room=room)
    out_rows = _rows(estimates, width=width, projected=projected, share=share, room=room, needed=needed)
    reachable = [r["needed"] for r in out_rows if isinstance(r["needed"], int)]
    every = None
    if needed is not None and out_rows and len(reachable) == len(out_rows):
        every = max(reachable)
    return {
        "problem": None,
        "dimension": table["dimension"],
        "design": campaign.get_sampling_design_display(),
        "extra": EXTRA,
        "rows": out_rows,
        "half_width": half_width,
        "every": every,
        "overlap": campaign.overlap,
    }


def _rows(estimates, *, width, projected, share, room, needed) -> list[dict]:
    """One dict per leaderboard row for the panel's table."""
    return [
        {
            "name": e.name,
            "n_clinician": e.n_clinician,
            "width": None if np.isnan(width[k]) else float(width[k]),
            "reason": e.ppi.undefined_reason,
            "projected": [None if np.isnan(v) else float(v) for v in projected[k]],
            "share": float(share[k]),
            "room": int(room[k]),
            "needed": None if needed is None else _needed(needed[k]),
        }
        for k, e in enumerate(estimates)
    ]


def _needed(value: float) -> int | str | None:
    if np.isnan(value):
        return None
    return "unreachable" if np.isinf(value) else int(value)
