"""The calibration, leaderboard and jury run pages show method names, judge · prompt names, separated thousands
and dollars to the cent, never the internal keys or raw floats."""

import html
import re

import pytest
from django.core.cache import cache
from django.urls import reverse

from generation.models import GenerationRun
from jury.templatetags.display import contrast_label, judge_prompt, method_label, metric_label, money, thousands
from tests.factories import JuryRunFactory
from tests.worlds import seed_results_world

pytestmark = pytest.mark.django_db


def test_the_filters():
    assert method_label("best_single") == "best single judge" and method_label("equal") == "equal-weight jury"
    assert method_label("weighted") == "weighted jury" and method_label("isotonic") == "isotonic"
    assert metric_label("qwk") == "κ (quadratic)" and metric_label("alpha") == "α with the jury"
    assert judge_prompt("sim-harsh-vision|safety-anchored@1") == (
        '<span title="sim-harsh-vision|safety-anchored@1">sim-harsh-vision · safety-anchored v1</span>'
    )
    assert contrast_label("no_ehr − full") == '<span title="no_ehr − full">No EHR − full</span>'
    assert contrast_label("no_image") == '<span title="no_image">No image</span>'
    assert contrast_label("malignant − rest") == "malignant − rest"
    assert judge_prompt("<b>|x@2") == '<span title="&lt;b&gt;|x@2">&lt;b&gt; · x v2</span>'
    assert thousands(48015384) == "48,015,384" and thousands("12") == "12" and thousands(None) == ""
    assert money(138.093685) == "$138.09" and money("1234.5") == "$1,234.50" and money(0) == "$0.00"
    assert money(0.0004) == "<$0.01"


def visible_text(html: str) -> str:
    """The page without its tags and attributes (keys may stay in a title) and without its inline figures."""
    html = re.sub(r"<svg.*?</svg>", "", html, flags=re.DOTALL)
    return re.sub(r"<[^>]+>", " ", html)


def test_calibration_and_leaderboard_pages_name_methods_metrics_and_judges(client, rex):
    cache.clear()
    campaign = seed_results_world(n_cases=8, scored_cases=8)
    client.force_login(rex)
    page = client.get(reverse("results:calibration", args=[campaign.key])).content.decode()
    text = visible_text(page)
    for key in ("best_single", "alpha", "qwk", "|"):
        assert key not in text, key
    assert "Best single judge" in text and "Equal-weight jury" in text and "Weighted jury" in text
    assert "κ (quadratic)" in text
    assert re.search(r'<span title="(lenient|noisy|close)\|[\w-]+@\d+">\1 · [\w-]+ v\d+</span>', page)
    client.post(reverse("results:calibration-save", args=[campaign.key]))
    board = visible_text(client.get(reverse("results:leaderboard", args=[campaign.key])).content.decode())
    methods = r"(equal-weight jury|best single judge|weighted jury|isotonic)"
    assert re.search(rf"Calibration methods:\s+Safety:\s+{methods}\s*;", board)
    assert "best_single" not in board


def test_the_run_page_formats_tokens_and_dollars(client, rex):
    run = JuryRunFactory(
        budget=250,
        estimate={"items": 12000, "cached": 0, "calls": 12000, "input_tokens": 48015384, "output_tokens": 1200000}
        | {"cost": 138.093685, "unbuildable": 0, "note": "prices from the judges' tables"},
    )
    client.force_login(rex)
    text = visible_text(client.get(reverse("runs:detail", args=[run.pk])).content.decode())
    assert "about 48,015,384 input and 1,200,000 output tokens" in text and "about $138.09" in text
    assert "12,000 provider calls" in text and "$250.00" in text
    assert "~48015384" not in text and "138.093685" not in text


def test_the_generation_run_page_formats_tokens_and_dollars(client, rex):
    estimate = {"conversations": 1200, "calls": 9600, "patient_calls": 4800, "model_calls": 4800}
    estimate |= {"input_tokens": 48015384, "output_tokens": 1200000, "cost": 138.093685, "patient_cost": 0.004}
    per_model = {"calls": 4800, "input_tokens": 2400000, "output_tokens": 600000, "cost": 1234.5}
    estimate |= {"models": {"demo-a": per_model}}
    run = GenerationRun.objects.create(name="Estimated", conditions=["full"], created_by=rex, estimate=estimate)
    client.force_login(rex)
    text = html.unescape(visible_text(client.get(reverse("generation:detail", args=[run.pk])).content.decode()))
    assert "about 48,015,384 input and 1,200,000 output tokens" in text and "about $138.09" in text
    assert "1,200 conversations" in text and "at most 9,600 provider calls" in text and "<$0.01" in text
    assert "$1,234.50" in text and "2,400,000" in text
    assert "~48015384" not in text and "138.093685" not in text
