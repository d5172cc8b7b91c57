"""The result figures: valid, accessible, CSP-safe SVG with one mark per estimate, and a message for nothing."""

import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest

from jury.statistics import plots as result_plots
from jury.statistics.agreement import Statistic
from jury.statistics.plots import Estimate

ROOT = Path(__file__).resolve().parents[3]

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ElementTree.Element:
    root = ElementTree.fromstring(markup)
    assert root.tag == f"{SVG}svg"
    return root


def ids(markup: str, key: str, kind: str) -> list[str]:
    return re.findall(rf'id="{key}-{kind}-([\d-]+)"', markup)


def assert_embeddable(markup: str, *, key: str, title: str) -> ElementTree.Element:
    """One <svg> element for an HTML page: no prologue, no script, no CSS, an accessible name and description."""
    root = parse(markup)
    assert markup.startswith("<svg ")
    assert "<script" not in markup and "style=" not in markup and "<style" not in markup
    assert root.get("role") == "img" and root.get("aria-labelledby") == f"{key}-title {key}-desc"
    assert root.find(f"{SVG}title").text == title and root.find(f"{SVG}title").get("id") == f"{key}-title"
    assert root.find(f"{SVG}desc").text
    every_id = re.findall(r'\bid="([^"]+)"', markup)
    assert len(every_id) == len(set(every_id)) and all(i.startswith(f"{key}-") for i in every_id)
    referenced = set(re.findall(r'href="#([^"]+)"', markup)) | set(re.findall(r"url\(#([^)]+)\)", markup))
    assert referenced <= set(every_id)
    return root


def interval(value: float, half: float = 0.2) -> Estimate:
    return Estimate(value, value - half, value + half)


def test_estimate_reads_a_statistic_and_knows_whether_its_interval_excludes_zero():
    estimate = Estimate.of(Statistic(value=0.3, ci=(0.1, 0.5)))
    assert (estimate.value, estimate.low, estimate.high, estimate.excludes_zero) == (0.3, 0.1, 0.5, True)
    assert not Estimate.of(Statistic(value=0.3, ci=(-0.1, 0.5))).excludes_zero
    assert not Estimate(0.3).excludes_zero and not Estimate(0.3).has_interval
    undefined = Estimate.of(Statistic(value=None, undefined_reason="no conversations"))
    assert not undefined.defined and undefined.text() == "undefined (no conversations)"


def test_binned_means_average_both_scores_per_bin_with_a_normal_interval():
    predictions = [1.1, 1.4, 2.2, 2.4, 2.45, 5.0, np.nan]
    target = [1.0, 2.0, 2.0, 3.0, 4.0, 5.0, 3.0]
    bins = result_plots.binned_means(predictions, target, edges=[1, 2, 3, 4, 5])
    assert [(b.low, b.high, b.n) for b in bins] == [(1, 2, 2), (2, 3, 3), (4, 5, 1)]
    assert bins[0].mean_prediction == pytest.approx(1.25) and bins[0].mean_target == pytest.approx(1.5)
    half = 1.959963984540054 * np.std([2.0, 3.0, 4.0], ddof=1) / np.sqrt(3)
    assert (bins[1].target_low, bins[1].target_high) == pytest.approx((3 - half, 3 + half))
    assert bins[2].target_low is None and bins[2].mean_prediction == 5.0  # the last bin is closed
    with pytest.raises(ValueError, match="increasing"):
        result_plots.binned_means([1.0], [1.0], edges=[2, 1])
    with pytest.raises(ValueError, match="same length"):
        result_plots.binned_means([1.0, 2.0], [1.0], edges=[1, 5])


def test_reliability_diagram_has_a_mark_per_bin_and_panel():
    rng = np.random.default_rng(1)
    target = rng.integers(1, 6, 120).astype(float)
    equal = np.clip(target + rng.normal(0, 0.7, 120), 1, 5)
    weighted = np.clip(target + rng.normal(0, 0.4, 120), 1, 5)
    title = "Safety: held-out jury against clinicians"
    markup = result_plots.reliability_svg(
        key="reliability-safety", title=title, target=target, predictions={"equal": equal, "weighted": weighted}
    )
    assert_embeddable(markup, key="reliability-safety", title=title)
    edges = np.arange(1, 5.25, 0.5)
    for panel, predictions in enumerate((equal, weighted)):
        expected = len(result_plots.binned_means(predictions, target, edges=edges))
        assert len([i for i in ids(markup, "reliability-safety", "bin") if i.startswith(f"{panel}-")]) == expected
    description = parse(markup).find(f"{SVG}desc").text
    assert "equal: MAE" in description and "weighted: MAE" in description


def test_forest_plot_sorts_rows_and_draws_a_point_and_interval_per_estimate():
    rows, columns = ["Low", "High", "Middle"], ["overall", "safety"]
    estimates = {
        ("Low", "overall"): interval(2.0),
        ("High", "overall"): interval(4.0),
        ("Middle", "overall"): interval(3.0),
    }
    estimates |= {
        ("Low", "safety"): interval(2.5),
        ("High", "safety"): Estimate(3.9),
        ("Middle", "safety"): Estimate(None),
    }
    markup = result_plots.forest_svg(
        key="forest-model", title="Models", rows=rows, columns=columns, estimates=estimates
    )
    assert_embeddable(markup, key="forest-model", title="Models")
    assert sorted(ids(markup, "forest-model", "point")) == ["0-0", "0-1", "1-0", "2-0", "2-1"]
    assert sorted(ids(markup, "forest-model", "interval")) == ["0-0", "1-0", "2-0", "2-1"]  # "High" safety has none
    assert ids(markup, "forest-model", "undefined") == ["1-1"]
    description = parse(markup).find(f"{SVG}desc").text
    assert description.index("High:") < description.index("Middle:") < description.index("Low:")


def test_heatmap_annotates_every_cell_and_outlines_those_whose_interval_excludes_zero():
    rows, columns = ["A", "B", "mean over models"], ["malignant − rest", "modality: CT − rest"]
    estimates = {
        ("A", columns[0]): interval(0.5),
        ("A", columns[1]): interval(0.1),
        ("B", columns[0]): interval(-0.4),
        ("B", columns[1]): Estimate(None, reason="no conversations"),
        ("mean over models", columns[0]): interval(0.05),
        ("mean over models", columns[1]): interval(-0.3, 0.1),
    }
    markup = result_plots.heatmap_svg(
        key="subgroups", title="Subgroups", rows=rows, columns=columns, estimates=estimates
    )
    assert_embeddable(markup, key="subgroups", title="Subgroups")
    assert sorted(ids(markup, "subgroups", "cell")) == ["0-0", "0-1", "1-0", "2-0", "2-1"]
    assert ids(markup, "subgroups", "undefined") == ["1-1"]
    assert sorted(ids(markup, "subgroups", "excludes-zero")) == ["0-0", "1-0", "2-1"]
    description = parse(markup).find(f"{SVG}desc").text
    assert "A, malignant − rest: +0.50" in description and "mean over models, modality: CT − rest" in description


def test_ablation_plot_draws_each_row_contrast_and_series():
    rows, contrasts, series = (
        ["A", "B", "mean over models"],
        ["no_image − full", "no_ehr − full"],
        ["overall", "safety"],
    )
    estimates = {(r, c, s): interval(-0.3) for r in rows for c in contrasts for s in series}
    estimates[("B", "no_ehr − full", "safety")] = Estimate(None)
    markup = result_plots.ablation_svg(
        key="ablations", title="Ablations", rows=rows, contrasts=contrasts, series=series, estimates=estimates
    )
    assert_embeddable(markup, key="ablations", title="Ablations")
    assert len(ids(markup, "ablations", "point")) == 3 * 2 * 2 - 1
    assert "1-1-1" not in ids(markup, "ablations", "point")
    assert "B, no_ehr − full: overall -0.30 [-0.50, -0.10], safety undefined" in parse(markup).find(f"{SVG}desc").text


@pytest.mark.parametrize(
    "draw",
    [
        lambda: result_plots.reliability_svg(key="k", title="Nothing", target=[], predictions={}),
        lambda: result_plots.reliability_svg(key="k", title="Nothing", target=[3.0], predictions={"equal": [np.nan]}),
        lambda: result_plots.forest_svg(key="k", title="Nothing", rows=["A"], columns=["overall"], estimates={}),
        lambda: result_plots.heatmap_svg(
            key="k",
            title="Nothing",
            rows=["A"],
            columns=["rare − rest"],
            estimates={("A", "rare − rest"): Estimate(None)},
        ),
        lambda: result_plots.ablation_svg(key="k", title="Nothing", rows=[], contrasts=[], series=[], estimates={}),
    ],
)
def test_nothing_to_draw_gives_a_figure_that_says_so(draw):
    markup = draw()
    root = assert_embeddable(markup, key="k", title="Nothing")
    assert root.find(f"{SVG}desc").text.startswith("No figure: ")


def test_a_figure_key_must_be_usable_as_an_html_id():
    with pytest.raises(ValueError, match="key must be"):
        result_plots.message_svg(key='x" onload="alert(1)', title="t", message="m")


def test_titles_are_escaped_in_the_markup():
    markup = result_plots.message_svg(key="k", title="<b>A & B</b>", message="none")
    assert "&lt;b&gt;A &amp; B&lt;/b&gt;" in markup
    assert parse(markup).find(f"{SVG}title").text == "<b>A & B</b>"


def test_threads_drawing_their_first_figures_at_once_all_succeed():
    """A fresh server's threads import matplotlib together on the first page with figures: all must draw."""
    script = """
import threading
from jury.statistics import plots
from jury.statistics.plots import Estimate
barrier = threading.Barrier(8)
errors = []
def draw(index):
    barrier.wait()
    try:
        if index % 2:
            plots.reliability_svg(key="k", title="t", target=[1.0, 2.0, 3.0], predictions={"equal": [1.0, 2.5, 3.0]})
        else:
            estimate = Estimate(value=0.2, low=0.1, high=0.3)
            plots.heatmap_svg(key="h", title="t", rows=["a"], columns=["b"], estimates={("a", "b"): estimate})
    except Exception as error:
        errors.append(repr(error))
threads = [threading.Thread(target=draw, args=(i,)) for i in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
assert not errors, errors
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
