"""Template filters that show the jury's internal keys and raw numbers as people read them.

``{% load display %}``: ``method_label`` (``best_single`` → "best single judge"), ``metric_label`` (``qwk`` →
"κ (quadratic)"), ``contrast_label`` (``no_image − full`` → "No image − full", the key in a ``title``),
``judge_prompt`` (``sim-harsh|safety-anchored@1`` → "sim-harsh · safety-anchored v1", the key in
a ``title``), ``thousands`` (48015384 → "48,015,384"), ``money`` (138.093685 → "$138.09") and ``duration``
(250 → "4 min 10 s").
"""

from decimal import Decimal, InvalidOperation

from django import template
from django.utils.html import format_html

from jury.statistics import leaderboard
from jury.statistics.calibration import METHOD_LABELS

register = template.Library()

METRIC_LABELS = {
    "mae": "MAE",
    "rmse": "RMSE",
    "spearman": "Spearman ρ",
    "qwk": "κ (quadratic)",
    "alpha": "α with the jury",
    "delta_mae": "Δ MAE vs equal",
}


@register.filter
def method_label(key) -> str:
    return METHOD_LABELS.get(str(key), str(key).replace("_", " "))


@register.filter
def metric_label(key) -> str:
    return METRIC_LABELS.get(str(key), str(key).replace("_", " "))


def judge_prompt_name(column: str) -> str:
    """``judge|prompt@version`` as "judge · prompt v<version>"; a bare judge key as itself."""
    judge, _, prompt = str(column).partition("|")
    if not prompt:
        return judge
    name, _, version = prompt.rpartition("@")
    return f"{judge} · {name} v{version}" if name and version else f"{judge} · {prompt}"


@register.filter
def contrast_label(contrast) -> str:
    label = leaderboard.contrast_label(str(contrast))
    return format_html('<span title="{}">{}</span>', contrast, label) if label != str(contrast) else str(contrast)


@register.filter
def judge_prompt(column) -> str:
    return format_html('<span title="{}">{}</span>', column, judge_prompt_name(column))


def _number(value) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        return None


@register.filter
def thousands(value) -> str:
    """A whole number with thousands separators; anything not a number unchanged."""
    number = _number(value)
    if number is None or not number.is_finite():
        return "" if value is None else str(value)
    return f"{round(number):,}"


@register.filter
def money(value) -> str:
    """US dollars to the cent, with thousands separators: "$1,138.09"; under a cent but not zero: "<$0.01"."""
    number = _number(value)
    if number is None or not number.is_finite():
        return "" if value is None else str(value)
    if 0 < abs(number) < Decimal("0.005"):
        return "<$0.01"
    sign = "−" if number < 0 else ""
    return f"{sign}${abs(number):,.2f}"


@register.filter
def duration(seconds) -> str:
    """Seconds as people read a time on task: "45 s", "4 min 10 s", "1 h 5 min"."""
    number = _number(seconds)
    if number is None or not number.is_finite():
        return "" if seconds is None else str(seconds)
    total = max(0, round(number))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"
