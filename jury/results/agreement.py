"""Reads for the campaign agreement report: clinician scores as units × raters matrices, and the report itself.

A campaign's units are the conversations with at least one submitted annotation in the campaign (against the
campaign's rubric); its raters are the clinicians who submitted them. Confidence intervals come from
:func:`jury.statistics.agreement.bootstrap` over *cases* (every conversation of a case is drawn together), because
conversations of one case share images and history and are not independent.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from django.core.cache import cache
from django.db.models import Count, F, Max, Q

from annotation.models import Annotation, Campaign, RubricDimension
from jury.statistics import agreement
from jury.statistics.plots import figure_svg as _svg
from jury.statistics.plots import load_matplotlib

SCALE = (1, 2, 3, 4, 5)
N_RESAMPLES = 1000
SEED = 20260101
CONFIDENCE = 0.95
CACHE_SECONDS = 15 * 60

# (key, label, statistic): every row of the per-dimension table, in order.
STATISTICS: tuple[tuple[str, str, object], ...] = (
    (
        "alpha_ordinal",
        "Krippendorff's α (ordinal)",
        partial(agreement.krippendorff_alpha, level="ordinal", value_domain=SCALE),
    ),
    (
        "alpha_interval",
        "Krippendorff's α (interval)",
        partial(agreement.krippendorff_alpha, level="interval", value_domain=SCALE),
    ),
    (
        "kappa_quadratic",
        "Mean pairwise Cohen's κ (quadratic)",
        partial(agreement.mean_pairwise_kappa, weights="quadratic", labels=SCALE),
    ),
    ("gwet_ac2", "Gwet's AC2 (quadratic)", partial(agreement.gwet_ac, categories=SCALE, weights="quadratic")),
    ("icc_2_1", "ICC(2,1) single rater", partial(agreement.icc, form="2,1")),
    ("icc_2_k", "ICC(2,k) mean of raters", partial(agreement.icc, form="2,k")),
    ("exact", "Exact agreement", agreement.exact_agreement),
    ("within_one", "Agreement within ±1", agreement.within_one_agreement),
)

# (key, label, statistic(a, b)): each clinician against the mean of the other clinicians.
LEAVE_ONE_OUT: tuple[tuple[str, str, object], ...] = (
    ("bias", "Bias (mean difference)", agreement.bias),
    ("mae", "Mean absolute error", agreement.mean_absolute_error),
    ("spearman", "Spearman's ρ", agreement.spearman),
)


@dataclass(frozen=True)
class DimensionRatings:
    key: str
    name: str
    ratings: np.ndarray  # units × clinicians, NaN where a clinician did not score the unit


@dataclass(frozen=True)
class CampaignRatings:
    campaign: Campaign
    clinicians: tuple[str, ...]
    conversations: tuple[str, ...]
    cases: tuple[str, ...]  # the case of each conversation: the bootstrap's clusters
    dimensions: tuple[DimensionRatings, ...] = field(default_factory=tuple)
    n_annotations: int = 0
    n_invalid_scores: int = 0  # scores outside 1–5 found in the database and left out


def campaigns_with_annotation_counts():
    """Every campaign, newest first, with how many submitted annotations and clinicians it has."""
    submitted = Q(annotations__status=Annotation.Status.SUBMITTED, annotations__rubric_id=F("rubric_id"))
    return Campaign.objects.select_related("rubric").annotate(
        n_submitted=Count("annotations", filter=submitted),
        n_clinicians=Count("annotations__annotator", filter=submitted, distinct=True),
    )


def campaign_for_report(*, key: str) -> Campaign:
    return Campaign.objects.select_related("rubric").get(key=key)


def _submitted(campaign: Campaign):
    return Annotation.objects.filter(
        campaign=campaign, rubric_id=campaign.rubric_id, status=Annotation.Status.SUBMITTED
    )


def campaign_ratings(*, campaign: Campaign) -> CampaignRatings:
    """Every submitted score of the campaign as one units × clinicians matrix per rubric dimension."""
    dimensions = list(RubricDimension.objects.filter(rubric_id=campaign.rubric_id).order_by("position", "key"))
    rows = list(
        _submitted(campaign)
        .order_by()
        .values_list("conversation__key", "conversation__case__key", "annotator__username", "scores")
    )
    conversations = sorted({row[0] for row in rows})
    clinicians = sorted({row[2] for row in rows})
    unit_of = {key: index for index, key in enumerate(conversations)}
    rater_of = {name: index for index, name in enumerate(clinicians)}
    case_of = {row[0]: row[1] for row in rows}
    matrices = {d.key: np.full((len(conversations), len(clinicians)), np.nan) for d in dimensions}
    invalid = 0
    for conversation, _case, clinician, scores in rows:
        for key, matrix in matrices.items():
            value = (scores or {}).get(key)
            if value is None:
                continue
            if isinstance(value, bool) or value not in SCALE:  # models validate; a raw write might not
                invalid += 1
                continue
            matrix[unit_of[conversation], rater_of[clinician]] = value
    return CampaignRatings(
        campaign=campaign,
        clinicians=tuple(clinicians),
        conversations=tuple(conversations),
        cases=tuple(case_of[key] for key in conversations),
        dimensions=tuple(DimensionRatings(d.key, d.name, matrices[d.key]) for d in dimensions),
        n_annotations=len(rows),
        n_invalid_scores=invalid,
    )


def _version(campaign: Campaign) -> str:
    """Changes whenever a submitted annotation of the campaign is added, edited or withdrawn."""
    summary = _submitted(campaign).aggregate(count=Count("id"), latest=Max("updated_at"))
    latest = summary["latest"].isoformat() if summary["latest"] else "-"
    return f"{summary['count']}:{latest}"


PLOTS = ("heatmap", "distribution")


def plot_svg(*, campaign: Campaign, plot: str, dimension: str) -> bytes | None:
    """One of the report's plots for one dimension as SVG (cached like the report); None for an unknown one."""
    if plot not in PLOTS:
        return None
    version = _version(campaign)
    cache_key = f"agreement-plot:{campaign.pk}:{version}:{plot}:{dimension}"
    svg = cache.get(cache_key)
    if svg is None:
        report = agreement_report(campaign=campaign)
        data = next((d for d in report["dimensions"] if d["key"] == dimension), None)
        if data is None:
            return None
        if plot == "heatmap":
            svg = heatmap_svg(dimension=data, clinicians=report["clinicians"])
        else:
            svg = distribution_svg(dimension=data)
        cache.set(cache_key, svg, CACHE_SECONDS)
    return svg


def agreement_report(*, campaign: Campaign, n_resamples: int = N_RESAMPLES, seed: int = SEED) -> dict:
    """The whole report as plain data (the JSON download): cached until the campaign's annotations change."""
    cache_key = f"agreement-report:{campaign.pk}:{_version(campaign)}:{n_resamples}:{seed}"
    report = cache.get(cache_key)
    if report is None:
        report = build_report(ratings=campaign_ratings(campaign=campaign), n_resamples=n_resamples, seed=seed)
        cache.set(cache_key, report, CACHE_SECONDS)
    return report


def build_report(*, ratings: CampaignRatings, n_resamples: int = N_RESAMPLES, seed: int = SEED) -> dict:
    campaign = ratings.campaign
    clinicians = list(ratings.clinicians)
    return {
        "campaign": {"key": campaign.key, "name": campaign.name, "rubric": campaign.rubric.key},
        "method": {
            "scale": list(SCALE),
            "confidence": CONFIDENCE,
            "n_resamples": n_resamples,
            "seed": seed,
            "resampled": "cases (all conversations of a case together)",
            "interval": "BCa (percentile when BCa cannot be formed)",
            "units": "conversations with at least one submitted annotation",
        },
        "n_annotations": ratings.n_annotations,
        "n_invalid_scores": ratings.n_invalid_scores,
        "n_conversations": len(ratings.conversations),
        "n_cases": len(set(ratings.cases)),
        "clinicians": clinicians,
        "dimensions": [
            _dimension_report(
                dimension, clinicians=clinicians, clusters=ratings.cases, n_resamples=n_resamples, seed=seed
            )
            for dimension in ratings.dimensions
        ],
    }


def _interval(ratings: np.ndarray, statistic, *, clusters, n_resamples: int, seed: int) -> dict:
    if ratings.shape[0] == 0:
        return agreement.Statistic(value=None, undefined_reason="no submitted annotations").as_dict()
    return agreement.bootstrap(
        ratings, statistic, n_resamples=n_resamples, clusters=list(clusters), confidence=CONFIDENCE, seed=seed
    ).as_dict()


def pairwise_kappa(ratings: np.ndarray) -> list[list[dict]]:
    """Quadratic-weighted Cohen's κ for every pair of clinicians (no intervals: the heatmap)."""
    kappa = partial(agreement.cohen_kappa, weights="quadratic", labels=SCALE)
    return [[cell.as_dict() for cell in row] for row in agreement.pairwise(ratings, kappa)]


def score_distribution(ratings: np.ndarray) -> list[dict[int, int]]:
    """How often each clinician gave each score 1–5."""
    return [{score: int((column == score).sum()) for score in SCALE} for column in ratings.T]


def _dimension_report(
    dimension: DimensionRatings, *, clinicians: list[str], clusters, n_resamples: int, seed: int
) -> dict:
    ratings = dimension.ratings
    present = ~np.isnan(ratings)
    statistics = [
        {
            "key": key,
            "label": label,
            **_interval(ratings, statistic, clusters=clusters, n_resamples=n_resamples, seed=seed),
        }
        for key, label, statistic in STATISTICS
    ]
    leave_one_out = {key: [] for key, _label, _statistic in LEAVE_ONE_OUT}
    for own, others in _leave_one_out_pairs(ratings):
        pair = np.column_stack([own, others])
        for key, _label, statistic in LEAVE_ONE_OUT:
            figure = _interval(
                pair, agreement.OnColumns(statistic), clusters=clusters, n_resamples=n_resamples, seed=seed
            )
            leave_one_out[key].append(figure)
    distributions = score_distribution(ratings)
    per_clinician = []
    for index, username in enumerate(clinicians):
        column = ratings[:, index]
        rated = column[~np.isnan(column)]
        per_clinician.append(
            {
                "clinician": username,
                "n_scored": int(rated.size),
                "mean": float(rated.mean()) if rated.size else None,
                "distribution": {str(score): count for score, count in distributions[index].items()},
                **{key: leave_one_out[key][index] for key, _label, _statistic in LEAVE_ONE_OUT},
            }
        )
    return {
        "key": dimension.key,
        "name": dimension.name,
        "n_conversations": int(present.any(1).sum()),
        "n_scores": int(present.sum()),
        "n_multiply_rated": int((present.sum(1) >= 2).sum()),
        "statistics": statistics,
        "pairwise_kappa": pairwise_kappa(ratings),
        "clinicians": per_clinician,
    }


def _leave_one_out_pairs(ratings: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each clinician: their scores and the mean score of the other clinicians, unit by unit.

    The same pairing as :func:`jury.statistics.agreement.leave_one_rater_out`; kept as columns so that the bootstrap
    resamples conversations (and the mean of the others travels with its conversation).
    """
    pairs = []
    for index in range(ratings.shape[1]):
        others = np.delete(ratings, index, axis=1)
        counts = (~np.isnan(others)).sum(1)
        mean = np.full(ratings.shape[0], np.nan)
        mean[counts > 0] = np.nansum(others[counts > 0], 1) / counts[counts > 0]
        pairs.append((ratings[:, index], mean))
    return pairs


CSV_COLUMNS = (
    "dimension",
    "section",
    "statistic",
    "clinician",
    "other",
    "value",
    "ci_low",
    "ci_high",
    "ci_method",
    "n_units",
    "n_raters",
    "undefined_reason",
    "note",
)


def report_csv(report: dict) -> str:
    """The report in long form: one row per figure."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    clinicians = report["clinicians"]

    def row(dimension: str, section: str, statistic: str, figure: dict, clinician: str = "", other: str = ""):
        ci = figure.get("ci") or (None, None)
        writer.writerow(
            {
                "dimension": dimension,
                "section": section,
                "statistic": statistic,
                "clinician": clinician,
                "other": other,
                "value": "" if figure["value"] is None else repr(figure["value"]),
                "ci_low": "" if ci[0] is None else repr(ci[0]),
                "ci_high": "" if ci[1] is None else repr(ci[1]),
                "ci_method": figure.get("ci_method") or "",
                "n_units": figure.get("n_units", ""),
                "n_raters": figure.get("n_raters", ""),
                "undefined_reason": figure.get("undefined_reason") or "",
                "note": figure.get("note") or "",
            }
        )

    for dimension in report["dimensions"]:
        for figure in dimension["statistics"]:
            row(dimension["key"], "agreement", figure["key"], figure)
        for i, first in enumerate(clinicians):
            for j, second in enumerate(clinicians):
                if i != j:
                    row(
                        dimension["key"],
                        "pairwise",
                        "kappa_quadratic",
                        dimension["pairwise_kappa"][i][j],
                        first,
                        second,
                    )
        for entry in dimension["clinicians"]:
            for key, _label, _statistic in LEAVE_ONE_OUT:
                row(dimension["key"], "leave_one_out", key, entry[key], entry["clinician"], "mean of others")
    return out.getvalue()


# --- plots: matplotlib SVG without any style element or attribute (jury.statistics.plots.figure_svg) ----------


def heatmap_svg(*, dimension: dict, clinicians: list[str]) -> bytes:
    """Clinician × clinician quadratic-weighted κ; undefined cells hatched and labelled "undefined"."""
    mpl = load_matplotlib()
    Figure, Normalize = mpl.Figure, mpl.Normalize

    size = len(clinicians)
    values = np.array(
        [[np.nan if cell["value"] is None else cell["value"] for cell in row] for row in dimension["pairwise_kappa"]]
    ).reshape(size, size)
    figure = Figure(figsize=(5.6, 3.8))
    axes = figure.add_subplot()
    if size:
        image = axes.imshow(np.ma.masked_invalid(values), cmap="viridis", norm=Normalize(vmin=-0.2, vmax=1))
        axes.set_facecolor("#eef2f6")
        colorbar = figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
        colorbar.set_label("quadratic-weighted κ")
        for i in range(size):
            for j in range(size):
                cell = dimension["pairwise_kappa"][i][j]
                if i == j:
                    label, colour = "—", "#5b6676"
                elif cell["value"] is None:
                    label, colour = "undefined", "#a4161a"
                else:
                    label = f"{cell['value']:.2f}\nn={cell['n_units']}"
                    colour = "white" if cell["value"] < 0.55 else "black"
                axes.text(j, i, label, ha="center", va="center", fontsize=9, color=colour)
        axes.set_xticks(range(size), clinicians, rotation=30, ha="right")
        axes.set_yticks(range(size), clinicians)
    else:
        axes.text(0.5, 0.5, "no clinician has scored yet", ha="center", va="center")
        axes.set_axis_off()
    axes.set_title(f"{dimension['name']}: pairwise κ", fontsize=10)
    return _svg(figure)


def distribution_svg(*, dimension: dict) -> bytes:
    """Each clinician's share of scores 1–5, as grouped bars, with their mean in the legend."""
    Figure = load_matplotlib().Figure

    entries = dimension["clinicians"]
    figure = Figure(figsize=(5.6, 3.8))
    axes = figure.add_subplot()
    width = 0.8 / max(len(entries), 1)
    colours = ("#0b5fad", "#e07b00", "#2a9d3f", "#8a3ffc", "#a4161a", "#5b6676", "#00897b", "#c2185b")
    for index, entry in enumerate(entries):
        counts = np.array([entry["distribution"][str(score)] for score in SCALE], dtype=float)
        shares = counts / counts.sum() if counts.sum() else counts
        mean = "–" if entry["mean"] is None else f"{entry['mean']:.2f}"
        axes.bar(
            np.array(SCALE) + (index - (len(entries) - 1) / 2) * width,
            shares,
            width=width,
            color=colours[index % len(colours)],
            label=f"{entry['clinician']} (n={entry['n_scored']}, mean {mean})",
        )
    axes.set_xticks(SCALE)
    axes.set_xlabel("score")
    axes.set_ylabel("share of the clinician's scores")
    axes.set_ylim(0, 1)
    axes.spines[["top", "right"]].set_visible(False)
    if entries:
        axes.legend(fontsize=7, frameon=False, loc="upper left")
    axes.set_title(f"{dimension['name']}: score distribution", fontsize=10)
    return _svg(figure)


_RESAMPLES_NOTE = re.compile(r"^\d+ resamples of \d+ (cluster|unit)s$")


def _page_note(note: str | None) -> str:
    """A figure's note without the resampling summary, which the page states once for all figures."""
    return "; ".join(part for part in (note or "").split("; ") if not _RESAMPLES_NOTE.match(part))


def page_dimensions(report: dict) -> list[dict]:
    """The report shaped for the page template (which cannot look up a dict by a variable key)."""
    labels = {key: label for key, label, _statistic in LEAVE_ONE_OUT}
    shaped = []
    for dimension in report["dimensions"]:
        clinicians = [
            {**entry, "counts": [entry["distribution"][str(score)] for score in SCALE]}
            for entry in dimension["clinicians"]
        ]
        statistics = [{**figure, "page_note": _page_note(figure["note"])} for figure in dimension["statistics"]]
        pairs = [
            cell["value"] is not None
            for i, row in enumerate(dimension["pairwise_kappa"])
            for j, cell in enumerate(row)
            if i != j
        ]
        shaped.append(
            {
                **dimension,
                "statistics": statistics,
                "clinician_rows": clinicians,
                "leave_one_out_labels": labels,
                "has_pairs": any(pairs),
            }
        )
    return shaped


def too_thin(*, report: dict, campaign: Campaign) -> str | None:
    """Why the campaign's agreement is mostly not defined yet, and what to do; None when some conversation of every
    dimension has two or more clinicians' scores."""
    multiply_rated = min((d["n_multiply_rated"] for d in report["dimensions"]), default=0)
    if not report["n_annotations"] or multiply_rated >= 2:
        return None
    n = report["n_conversations"]
    scored = f"{n} conversation{'s' if n != 1 else ''} {'is' if n == 1 else 'are'} scored"
    return (
        f"Agreement compares clinicians who scored the same conversations: {scored}, and {multiply_rated} of them "
        f"by two or more clinicians, so most figures below are not defined yet. Ask more clinicians to score the "
        f"campaign’s conversations (each is offered to {campaign.overlap} clinicians)."
    )
