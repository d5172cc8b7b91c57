"""Figures of the calibration and leaderboard pages as inline SVG: pure drawing over plain data, no Django.

Every drawing function takes plain numbers (:class:`Estimate`, sequences, mappings) and returns SVG markup to put
in the page as it is: ``role="img"`` with a ``<title>`` and a ``<desc>`` that says in words what the figure shows,
all styling as presentation attributes (the strict CSP forbids ``style`` attributes and elements), and every
``id`` prefixed with the figure's ``key`` so that several figures can share one HTML document. Data that cannot
be drawn (nothing to plot, every estimate undefined) give a figure that says why instead of empty axes.

Colours are the Okabe & Ito palette (Okabe & Ito 2008, *Color Universal Design*, https://jfly.uni-koeln.de/color/),
distinguishable with the common colour-vision deficiencies; the diverging heatmap uses ColorBrewer's RdBu
(Harrower & Brewer 2003, *The Cartographic Journal* 40(1):27–37), marked colour-blind safe there.

- :func:`reliability_svg`: calibrated jury score against the clinicians' score, binned means with 95 % intervals
  and the identity line (the reliability diagram of DeGroot & Fienberg 1983, *The Statistician* 32:12–22, drawn
  for a continuous score as in Niculescu-Mizil & Caruana 2005, ICML, "Predicting good probabilities with
  supervised learning").
- :func:`forest_svg`: point and interval per row and column (one panel a column, rows sorted by the first).
- :func:`heatmap_svg`: rows × contrasts of a difference on a diverging scale centred at 0.
- :func:`ablation_svg`: per row and contrast, several series of differences with intervals.

It is long because each figure type (reliability, forest, heatmap, ablation, message) is drawn by hand to stay
CSP-safe inline SVG without a style element; they share the primitives at the top.
"""

from __future__ import annotations

import functools
import html
import io
import math
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "OKABE_ITO",
    "Bin",
    "Estimate",
    "ablation_svg",
    "binned_means",
    "figure_svg",
    "forest_svg",
    "heatmap_svg",
    "inline_svg",
    "message_svg",
    "reliability_svg",
]

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442")
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*")
INK, MUTED, GRID = "#1d2430", "#5b6676", "#d8dee6"
_Z95 = 1.959963984540054


# --- SVG without inline styles, embeddable in a page ------------------------------------------------------

_PRESENTATION = re.compile(r'style="([^"]*)"')
_STYLE_ELEMENT = re.compile(r"<style[^>]*>.*?</style>", re.DOTALL)
_PROLOGUE = re.compile(r"^.*?(?=<svg[\s>])", re.DOTALL)
_ID = re.compile(r'\bid="([^"]+)"')
_HREF = re.compile(r'href="#([^"]+)"')
_URL = re.compile(r"url\(#([^)]+)\)")
_SIZE = re.compile(r'\s(width|height)="([\d.]+)pt"')


def _presentation_attributes(match: re.Match) -> str:
    declarations = (part.split(":", 1) for part in match.group(1).split(";") if ":" in part)
    return " ".join(f'{name.strip()}="{html.escape(value.strip())}"' for name, value in declarations)


_MATPLOTLIB_LOCK = threading.Lock()


@dataclass(frozen=True)
class _Matplotlib:
    matplotlib: object
    Figure: type
    Normalize: type
    Rectangle: type


@functools.cache
def _import_matplotlib() -> _Matplotlib:
    import matplotlib  # on first use, so the site does not pay for it at start-up
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    return _Matplotlib(matplotlib=matplotlib, Figure=Figure, Normalize=Normalize, Rectangle=Rectangle)


def load_matplotlib() -> _Matplotlib:
    """matplotlib's figure classes, imported once under a lock: threads of one server drawing their first figures
    at the same moment would otherwise import matplotlib concurrently, which it does not survive (a circular
    import seen as "partially initialized module" or an import deadlock)."""
    with _MATPLOTLIB_LOCK:
        return _import_matplotlib()


def figure_svg(figure, *, text_as_paths: bool = True) -> bytes:
    """A matplotlib figure as a standalone SVG document whose styling is all presentation attributes (fill="…"),
    never CSS. Text is drawn as paths (the figure looks the same without the fonts) or, with ``text_as_paths``
    False, kept as ``<text>`` in DejaVu Sans or a font of similar width: a third of the size, and searchable."""
    matplotlib = load_matplotlib().matplotlib

    out = io.StringIO()
    settings = {"svg.fonttype": "path", "svg.hashsalt": "imcbench"}
    if not text_as_paths:  # Verdana has DejaVu Sans's widths, so labels laid out for one fit the other
        settings |= {"svg.fonttype": "none", "font.sans-serif": ["DejaVu Sans", "Verdana"]}
    with matplotlib.rc_context(settings):
        figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    text = _STYLE_ELEMENT.sub("", out.getvalue())
    text = _PRESENTATION.sub(_presentation_attributes, text)
    text = text.replace("<svg ", '<svg stroke-linejoin="round" stroke-linecap="butt" ', 1)
    return text.encode()


def inline_svg(figure, *, key: str, title: str, description: str) -> str:
    """The figure as an ``<svg>`` element for an HTML page: no XML prologue, ``id``s prefixed with ``key``, sized
    in CSS pixels, and announced as one image by its title and description."""
    if not re.fullmatch(r"[A-Za-z][\w-]*", key):
        raise ValueError(f"key must be a letter followed by letters, digits, '_' or '-'; got {key!r}")
    text = _PROLOGUE.sub("", figure_svg(figure, text_as_paths=False).decode(), count=1)
    text = _ID.sub(lambda m: f'id="{key}-{m.group(1)}"', text)
    text = _HREF.sub(lambda m: f'href="#{key}-{m.group(1)}"', text)
    text = _URL.sub(lambda m: f"url(#{key}-{m.group(1)})", text)
    text = _SIZE.sub(lambda m: f' {m.group(1)}="{round(float(m.group(2)) * 4 / 3)}"', text, count=2)
    head, rest = text.split(">", 1)
    accessible = (
        f' role="img" aria-labelledby="{key}-title {key}-desc" class="result-plot-svg">'
        f'<title id="{key}-title">{html.escape(title)}</title><desc id="{key}-desc">{html.escape(description)}</desc>'
    )
    return head + accessible + rest


def message_svg(*, key: str, title: str, message: str) -> str:
    """A small figure that says why there is nothing to draw (instead of empty or broken axes)."""
    Figure = load_matplotlib().Figure

    figure = Figure(figsize=(7.5, 1.4))
    figure.text(0.5, 0.68, title, ha="center", va="center", fontsize=11, color=INK, weight="bold")
    figure.text(0.5, 0.3, _wrap(message, 95), ha="center", va="center", fontsize=10, color=MUTED)
    return inline_svg(figure, key=key, title=title, description=f"No figure: {message}")


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or text


# --- plain inputs -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """A point estimate with an optional interval; ``value`` None = undefined (``reason`` says why)."""

    value: float | None
    low: float | None = None
    high: float | None = None
    reason: str | None = None

    @classmethod
    def of(cls, statistic) -> Estimate:
        """From anything with ``value``, ``ci`` (a pair or None) and ``undefined_reason`` (agreement.Statistic)."""
        ci = getattr(statistic, "ci", None)
        return cls(
            value=statistic.value,
            low=ci[0] if ci else None,
            high=ci[1] if ci else None,
            reason=getattr(statistic, "undefined_reason", None),
        )

    @property
    def defined(self) -> bool:
        return self.value is not None and math.isfinite(self.value)

    @property
    def has_interval(self) -> bool:
        return self.defined and self.low is not None and self.high is not None

    @property
    def excludes_zero(self) -> bool:
        return self.has_interval and (self.low > 0 or self.high < 0)

    def text(self) -> str:
        if not self.defined:
            return f"undefined ({self.reason})" if self.reason else "undefined"
        if self.has_interval:
            return f"{self.value:+.2f} (95 % CI {self.low:+.2f} to {self.high:+.2f})"
        return f"{self.value:+.2f}"


@dataclass(frozen=True)
class Bin:
    """Conversations whose jury score falls in [low, high): their mean jury score, mean clinician score and its
    95 % normal interval (none for a single conversation)."""

    low: float
    high: float
    n: int
    mean_prediction: float
    mean_target: float
    target_low: float | None
    target_high: float | None


def binned_means(predictions: Sequence[float], target: Sequence[float], *, edges: Sequence[float]) -> list[Bin]:
    """Group conversations by their jury score into ``edges`` bins (the last bin closed) and average both scores.

    Parameters
    ----------
    predictions : the jury's score per conversation.
    target : the clinicians' score per conversation; pairs with a NaN on either side are left out.
    edges : increasing bin edges.

    Returns
    -------
    The non-empty bins in order. The interval is mean ± 1.96 · s / √n with s the sample standard deviation:
    conversations are treated as independent, so it is narrower than a case-clustered one.
    """
    x, y = np.asarray(predictions, dtype=float), np.asarray(target, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"predictions and target must be 1-D of the same length; got {x.shape} and {y.shape}")
    bounds = np.asarray(edges, dtype=float)
    if bounds.ndim != 1 or bounds.size < 2 or not (np.diff(bounds) > 0).all():
        raise ValueError(f"edges must be at least two increasing numbers; got {list(edges)!r}")
    keep = ~np.isnan(x) & ~np.isnan(y)
    x, y = x[keep], y[keep]
    index = np.clip(np.searchsorted(bounds, x, side="right") - 1, 0, bounds.size - 2)
    inside = (x >= bounds[0]) & (x <= bounds[-1])
    bins = []
    for b in range(bounds.size - 1):
        member = inside & (index == b)
        n = int(member.sum())
        if not n:
            continue
        mean = float(y[member].mean())
        half = _Z95 * float(y[member].std(ddof=1)) / math.sqrt(n) if n > 1 else None
        bins.append(
            Bin(
                low=float(bounds[b]),
                high=float(bounds[b + 1]),
                n=n,
                mean_prediction=float(x[member].mean()),
                mean_target=mean,
                target_low=mean - half if half is not None else None,
                target_high=mean + half if half is not None else None,
            )
        )
    return bins


# --- the figures ------------------------------------------------------------------------------------------


def _tidy(axes) -> None:
    axes.spines[["top", "right"]].set_visible(False)
    axes.spines[["left", "bottom"]].set_color(MUTED)
    axes.tick_params(colors=INK, labelsize=9)


def reliability_svg(
    *,
    key: str,
    title: str,
    target: Sequence[float],
    predictions: Mapping[str, Sequence[float]],
    scale: tuple[float, float] = (1.0, 5.0),
    bin_width: float = 0.5,
    x_label: str = "calibrated jury score (held-out)",
) -> str:
    """One panel per method (``predictions``: label → a score per conversation, aligned with ``target``): each
    conversation as a faint dot, the clinicians' mean score per bin of jury scores with its 95 % interval, and the
    identity line a perfectly calibrated jury would lie on.

    It is long because it lays out panels, axes, binned means and the diagonal as SVG elements one by one."""
    Figure = load_matplotlib().Figure

    target = np.asarray(target, dtype=float)
    if not predictions or target.size == 0:
        return message_svg(key=key, title=title, message="no clinician-scored conversation has a jury score")
    low, high = scale
    edges = np.arange(low, high + bin_width / 2, bin_width)
    panels = [(label, np.asarray(values, dtype=float), binned_means(values, target, edges=edges))
              for label, values in predictions.items()]  # fmt: skip
    if not any(bins for _, _, bins in panels):
        return message_svg(key=key, title=title, message="no conversation has both a jury and a clinician score")
    figure = Figure(figsize=(4.3 * len(panels) + 0.5, 5.0))
    axes_list = figure.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    jitter = np.random.default_rng(0).uniform(-0.06, 0.06, target.size)
    description = [f"{title}. For each method, conversations binned by jury score (bins {bin_width:g} wide)."]
    for index, (axes, (label, values, bins)) in enumerate(zip(axes_list, panels, strict=True)):
        colour = OKABE_ITO[index % len(OKABE_ITO)]
        axes.plot([low, high], [low, high], color=MUTED, linestyle="--", linewidth=1, label="identity")
        axes.scatter(values, target + jitter, s=7, color=colour, alpha=0.18, linewidths=0, label="conversation")
        labelled = next((number for number, b in enumerate(bins) if b.n > 1), 0)  # a legend entry with its bar
        for number, b in enumerate(bins):
            spread = [[b.mean_target - b.target_low], [b.target_high - b.mean_target]] if b.n > 1 else None
            container = axes.errorbar(
                [b.mean_prediction],
                [b.mean_target],
                yerr=spread,
                fmt=MARKERS[index % len(MARKERS)],
                color=colour,
                markeredgecolor=INK,
                markersize=7,
                capsize=3,
                linewidth=1.5,
                label="bin mean, 95 % CI" if number == labelled else None,
            )
            container.lines[0].set_gid(f"bin-{index}-{number}")
            axes.text((b.low + b.high) / 2, high + 0.4, f"{b.n}", ha="center", va="center", fontsize=7, color=MUTED)
        valid = ~np.isnan(values) & ~np.isnan(target)
        mae = float(np.abs(values[valid] - target[valid]).mean()) if valid.any() else math.nan
        axes.set_title(
            f"{label}\nMAE {mae:.3f}, {int(valid.sum())} conversations (per bin on top)", fontsize=9.5, color=INK
        )
        axes.set_xlim(low - 0.2, high + 0.2)
        axes.set_ylim(low - 0.3, high + 0.6)
        axes.set_aspect("equal")
        axes.set_xlabel(x_label, fontsize=9, color=INK)
        axes.grid(color=GRID, linewidth=0.6)
        _tidy(axes)
        summary = "; ".join(f"{b.low:g}–{b.high:g}: clinicians {b.mean_target:.2f} (n={b.n})" for b in bins)
        description.append(f"{label}: MAE {mae:.3f}; bins {summary}.")
    axes_list[0].set_ylabel("clinicians' score (consensus)", fontsize=9, color=INK)
    handles, labels = axes_list[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False, fontsize=8.5)
    figure.suptitle(title, fontsize=11, color=INK)
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    return inline_svg(figure, key=key, title=title, description=" ".join(description))


def forest_svg(
    *,
    key: str,
    title: str,
    rows: Sequence[str],
    columns: Sequence[str],
    estimates: Mapping[tuple[str, str], Estimate],
    x_label: str = "calibrated score, mean with 95 % CI",
) -> str:
    """One panel per column, one line per row: the point and its interval, rows sorted by the first column's
    value (highest at the top; undefined last); every panel on the same x range."""
    Figure = load_matplotlib().Figure

    defined = [e for e in estimates.values() if e.defined]
    if not rows or not columns or not defined:
        return message_svg(key=key, title=title, message="no estimate to draw")
    first = columns[0]

    def order(name: str):
        estimate = estimates.get((name, first))
        return (0, -estimate.value, name) if estimate and estimate.defined else (1, 0, name)

    ordered = sorted(rows, key=order)
    lows = [e.low if e.has_interval else e.value for e in defined]
    highs = [e.high if e.has_interval else e.value for e in defined]
    span = max(max(highs) - min(lows), 0.2)
    x_range = (min(lows) - 0.08 * span, max(highs) + 0.08 * span)
    height = max(2.4, 1.0 + 0.34 * len(ordered))
    figure = Figure(figsize=(min(3.0 * len(columns), 12.5) + 1.8, height))
    axes_list = figure.subplots(1, len(columns), sharey=True, squeeze=False)[0]
    y = np.arange(len(ordered))[::-1]
    for index, (axes, column) in enumerate(zip(axes_list, columns, strict=True)):
        colour = INK if index == 0 else OKABE_ITO[(index - 1) % len(OKABE_ITO)]
        for r, (row, position) in enumerate(zip(ordered, y, strict=True)):
            estimate = estimates.get((row, column))
            if estimate is None or not estimate.defined:
                axes.text(sum(x_range) / 2, position, "undefined", ha="center", va="center", fontsize=8, color=MUTED,
                          gid=f"undefined-{r}-{index}")  # fmt: skip
                continue
            if estimate.has_interval:
                axes.plot([estimate.low, estimate.high], [position, position], color=colour, linewidth=1.8,
                          gid=f"interval-{r}-{index}")  # fmt: skip
            axes.plot(estimate.value, position, MARKERS[index % len(MARKERS)], color=colour,
                      markeredgecolor=INK, markersize=6.5, gid=f"point-{r}-{index}")  # fmt: skip
        axes.set_xlim(*x_range)
        axes.set_ylim(-0.7, len(ordered) - 0.3)
        axes.set_title(column, fontsize=10, color=INK)
        axes.grid(axis="x", color=GRID, linewidth=0.6)
        for position in y:
            axes.axhline(position, color=GRID, linewidth=0.4, zorder=0)
        _tidy(axes)
    axes_list[0].set_yticks(y, ordered)
    figure.supxlabel(x_label, fontsize=9, color=INK)
    figure.suptitle(title, fontsize=11, color=INK)
    figure.tight_layout()
    lines = [f"{row}: " + ", ".join(f"{c} {_plain(estimates.get((row, c)))}" for c in columns) for row in ordered]
    description = f"{title}. Rows sorted by {first}, highest first. " + "; ".join(lines) + "."
    return inline_svg(figure, key=key, title=title, description=description)


def _plain(estimate: Estimate | None) -> str:
    if estimate is None or not estimate.defined:
        return "undefined"
    if estimate.has_interval:
        return f"{estimate.value:.2f} [{estimate.low:.2f}, {estimate.high:.2f}]"
    return f"{estimate.value:.2f}"


def heatmap_svg(
    *,
    key: str,
    title: str,
    rows: Sequence[str],
    columns: Sequence[str],
    estimates: Mapping[tuple[str, str], Estimate],
    colour_label: str = "Δ calibrated score (subgroup − rest)",
    separate_last_row: bool = True,
    limit: float | None = None,
) -> str:
    """Rows × columns of a difference, coloured on RdBu centred at 0 and annotated with the value; cells whose
    95 % interval excludes 0 are outlined and starred, undefined cells grey with a dash. The colour scale runs
    from −``limit`` to +``limit`` (default: the largest |Δ| here, at least 0.5) so several heatmaps can share it.

    It is long because it lays out the grid, the diverging colour scale, the labels and the interval marks as SVG
    elements one by one."""
    mpl = load_matplotlib()
    Figure, Normalize, Rectangle = mpl.Figure, mpl.Normalize, mpl.Rectangle

    values = np.array(
        [[_value(estimates.get((row, column))) for column in columns] for row in rows], dtype=float
    ).reshape(len(rows), len(columns))
    if not rows or not columns or np.isnan(values).all():
        return message_svg(key=key, title=title, message="no defined difference to draw")
    if limit is None:
        limit = max(float(np.nanmax(np.abs(values))), 0.5)  # small differences stay pale
    norm = Normalize(vmin=-limit, vmax=limit)
    figure = Figure(figsize=(min(2.2 + 0.95 * len(columns), 13.5), 1.9 + 0.42 * len(rows)))
    axes = figure.add_subplot()
    axes.set_facecolor("#e3e7ec")
    image = axes.imshow(np.ma.masked_invalid(values), cmap="RdBu", norm=norm, aspect="auto")
    colorbar = figure.colorbar(image, ax=axes, fraction=0.035, pad=0.02)
    colorbar.set_label(colour_label, fontsize=9, color=INK)
    colorbar.ax.tick_params(labelsize=8)
    for i, row in enumerate(rows):
        for j, column in enumerate(columns):
            estimate = estimates.get((row, column))
            if estimate is None or not estimate.defined:
                axes.text(j, i, "–", ha="center", va="center", fontsize=9, color=MUTED, gid=f"undefined-{i}-{j}")
                continue
            strong = abs(estimate.value) > 0.55 * limit
            marked = estimate.excludes_zero
            axes.text(j, i, f"{_signed(estimate.value)}{'*' if marked else ''}", ha="center", va="center", fontsize=8.5,
                      color="white" if strong else INK, weight="bold" if marked else "normal",
                      gid=f"cell-{i}-{j}")  # fmt: skip
            if marked:
                # black outside, white inside: visible on pale and on dark cells alike
                axes.add_patch(Rectangle((j - 0.47, i - 0.45), 0.94, 0.9, fill=False, edgecolor=INK, linewidth=2,
                                         gid=f"excludes-zero-{i}-{j}"))  # fmt: skip
                axes.add_patch(Rectangle((j - 0.43, i - 0.39), 0.86, 0.78, fill=False, edgecolor="white", linewidth=1))
    if separate_last_row and len(rows) > 1:
        axes.axhline(len(rows) - 1.5, color=INK, linewidth=1.2)
    axes.set_xticks(range(len(columns)), columns, rotation=35, ha="right", rotation_mode="anchor", fontsize=8.5)
    axes.set_yticks(range(len(rows)), rows, fontsize=9)
    axes.tick_params(length=0)
    for spine in axes.spines.values():
        spine.set_visible(False)
    axes.set_title(title, fontsize=11, color=INK)
    marked = [
        f"{row}, {column}: {estimates[(row, column)].text()}"
        for row in rows
        for column in columns
        if (row, column) in estimates and estimates[(row, column)].excludes_zero
    ]
    description = f"{title}. Heatmap of {len(rows)} rows by {len(columns)} contrasts, blue above 0 and red below. " + (
        f"Intervals excluding 0: {'; '.join(marked)}." if marked else "No 95 % interval excludes 0."
    )
    return inline_svg(figure, key=key, title=title, description=description)


def _signed(value: float) -> str:
    """Two decimals with a sign, and no "-0.00"."""
    rounded = round(value, 2)
    return "0.00" if rounded == 0 else f"{rounded:+.2f}"


def _value(estimate: Estimate | None) -> float:
    return estimate.value if estimate is not None and estimate.defined else math.nan


def ablation_svg(
    *,
    key: str,
    title: str,
    rows: Sequence[str],
    contrasts: Sequence[str],
    series: Sequence[str],
    estimates: Mapping[tuple[str, str, str], Estimate],
    x_label: str = "Δ calibrated score (ablated − full), paired by case",
    contrast_labels: Mapping[str, str] | None = None,
) -> str:
    """One panel per contrast (titled by ``contrast_labels``, else by the contrast itself), one band per row (the
    last set apart, e.g. the mean over models), and in each band one point with its interval per series (e.g.
    overall and each dimension); a reference line at 0.

    It is long because it lays out rows, series and intervals as SVG elements one by one."""
    Figure = load_matplotlib().Figure

    defined = [e for e in estimates.values() if e.defined]
    if not rows or not contrasts or not series or not defined:
        return message_svg(key=key, title=title, message="no defined difference to draw")
    lows = [min(e.low, e.value) if e.has_interval else e.value for e in defined]
    highs = [max(e.high, e.value) if e.has_interval else e.value for e in defined]
    span = max(max(highs) - min(lows), 0.2)
    x_range = (min(min(lows), 0) - 0.06 * span, max(max(highs), 0) + 0.06 * span)
    figure = Figure(figsize=(min(5.2 * len(contrasts), 12.5) + 1.8, 1.5 + 0.55 * len(rows)))
    axes_list = figure.subplots(1, len(contrasts), sharey=True, squeeze=False)[0]
    band = np.arange(len(rows))[::-1].astype(float)
    offsets = (np.arange(len(series)) - (len(series) - 1) / 2) * min(0.7 / len(series), 0.2)
    in_legend: set[str] = set()
    titles = contrast_labels or {}
    for c, (axes, contrast) in enumerate(zip(axes_list, contrasts, strict=True)):
        axes.axvline(0, color=MUTED, linewidth=1, linestyle="--")
        for s, name in enumerate(series):
            colour, marker = (INK, MARKERS[0]) if s == 0 else (OKABE_ITO[(s - 1) % len(OKABE_ITO)], MARKERS[s % 8])
            for r, (row, centre) in enumerate(zip(rows, band, strict=True)):
                estimate = estimates.get((row, contrast, name))
                if estimate is None or not estimate.defined:
                    continue
                position = centre - offsets[s]
                if estimate.has_interval:
                    axes.plot([estimate.low, estimate.high], [position, position], color=colour, linewidth=1.4,
                              gid=f"interval-{r}-{c}-{s}")  # fmt: skip
                axes.plot(estimate.value, position, marker, color=colour, markeredgecolor=INK, markersize=5.5,
                          label=None if name in in_legend else name, gid=f"point-{r}-{c}-{s}")  # fmt: skip
                in_legend.add(name)
        if len(rows) > 1:
            axes.axhline(0.5, color=INK, linewidth=0.8)
        for centre in band[:-1] + 0.5:
            axes.axhline(centre, color=GRID, linewidth=0.5, zorder=0)
        axes.set_xlim(*x_range)
        axes.set_ylim(-0.6, len(rows) - 0.4)
        axes.set_title(titles.get(contrast, contrast), fontsize=10, color=INK)
        axes.grid(axis="x", color=GRID, linewidth=0.6)
        _tidy(axes)
    axes_list[0].set_yticks(band, rows)
    handles = [h for axes in axes_list for h in axes.get_legend_handles_labels()[0]]
    labels = [label for axes in axes_list for label in axes.get_legend_handles_labels()[1]]
    figure.legend(handles, labels, loc="upper center", ncol=len(series), frameon=False, fontsize=9,
                  bbox_to_anchor=(0.5, 0.985 - 0.35 / figure.get_figheight()))  # fmt: skip
    figure.supxlabel(x_label, fontsize=9, color=INK)
    figure.suptitle(title, fontsize=11, color=INK)
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.55 / figure.get_figheight()))
    lines = [
        f"{row}, {titles.get(contrast, contrast)}: "
        + ", ".join(f"{name} {_plain(estimates.get((row, contrast, name)))}" for name in series)
        for contrast in contrasts
        for row in rows
    ]
    description = f"{title}. " + "; ".join(lines) + "."
    return inline_svg(figure, key=key, title=title, description=description)
