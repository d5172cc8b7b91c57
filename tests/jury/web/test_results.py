"""The calibration and leaderboard pages draw their figures from the numbers of their own tables."""

import re
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest
from django.core.cache import cache

from annotation.models import Conversation
from jury.models import Judge, Judgement, JudgePrompt
from jury.results.calibration import calibrate_campaign, held_out_predictions
from jury.statistics.calibration import METHOD_LABELS
from tests.worlds import DIMENSIONS, MODALITIES, seed_results_world, seed_rich_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    cache.clear()  # the leaderboard page caches by content, and ids repeat between tests
    return seed_results_world()


@pytest.fixture
def rich_world():
    cache.clear()
    return seed_rich_world()


def figures(page: str) -> dict[str, str]:
    """Every inline figure of a page by the id of its <figure>, each checked to be one well-formed SVG."""
    found = dict(re.findall(r'<figure class="result-figure" id="([^"]+)">\s*(<svg .*?</svg>)', page, re.DOTALL))
    for markup in found.values():
        assert ElementTree.fromstring(markup).get("role") == "img"
    return found


def test_held_out_predictions_are_the_ones_the_cross_validated_figures_come_from(world):
    result = calibrate_campaign(campaign=world)
    held_out = held_out_predictions(result=result, methods=["equal", "weighted"])
    for dimension, report in result.reports.items():
        target = held_out[dimension]["target"]
        assert target.size == report.n_conversations == 80
        for method in ("equal", "weighted"):
            error = np.abs(held_out[dimension]["predictions"][method] - target).mean()
            assert error == pytest.approx(report.methods[method].mae.value, abs=1e-12)


def test_calibration_page_draws_the_jury_against_clinicians_for_each_dimension(client, rex, world):
    client.force_login(rex)
    page = client.get("/campaigns/results/calibration/").content.decode()
    drawn = figures(page)
    assert set(drawn) == {f"reliability-figure-{d}" for d in DIMENSIONS}
    result = calibrate_campaign(campaign=world)
    for dimension in DIMENSIONS:
        report = result.reports[dimension]
        markup = drawn[f"reliability-figure-{dimension}"]
        assert set(re.findall(rf'id="reliability-{dimension}-bin-(\d+)-\d+"', markup)) == {"0", "1"}
        chosen = METHOD_LABELS[report.chosen]
        assert f"{chosen} (chosen): MAE {report.methods[report.chosen].mae.value:.3f}" in markup
        other = "equal-weight jury (baseline)" if report.chosen != "equal" else "(best alternative, not chosen)"
        assert other in markup
    assert "<script" not in "".join(drawn.values())


def test_leaderboard_page_draws_the_forest_plots_heatmaps_and_ablations(client, rex, rich_world):
    client.force_login(rex)
    page = client.get("/campaigns/results/leaderboard/").content.decode()
    drawn = figures(page)
    per_dimension = {f"subgroup-heatmap-{d}": d for d in DIMENSIONS}
    overall = {"forest-models-figure", "forest-families-figure", "subgroup-heatmap-figure", "ablation-figure"}
    assert set(drawn) == overall | set(per_dimension) and page.count("<svg ") == len(drawn)
    for figure, dimension in per_dimension.items():
        assert f'<title id="subgroups-{dimension}-title">Subgroup − rest, {dimension}:' in drawn[figure]
    models_forest = drawn["forest-models-figure"]
    assert len(re.findall(r'id="forest-model-point-', models_forest)) == 4 * 4  # models × (overall + dimensions)
    assert len(re.findall(r'id="forest-family-point-', drawn["forest-families-figure"])) == 2 * 4
    table_order = re.findall(r"<th scope=\"row\">(Alpha One|Alpha Two|Beta One|Beta Two)</th>", page)[:4]
    description = re.search(r'<desc id="forest-model-desc">([^<]*)</desc>', models_forest).group(1)
    assert [name for name in table_order] == sorted(table_order, key=description.index)
    heatmap = drawn["subgroup-heatmap-figure"]
    columns = ["malignant", "rare", *(f"modality: {m}" for m in MODALITIES), "specialty: neurology",
               "specialty: oncology", "specialty: dermatology"]  # fmt: skip
    assert len(re.findall(r'id="subgroups-overall-cell-', heatmap)) == (4 + 1) * len(columns)
    assert "specialty: pathology (1 case in it, 43 outside)" in page
    ablations = drawn["ablation-figure"]
    assert len(re.findall(r'id="ablations-point-', ablations)) == (4 + 1) * 2 * 4
    assert "mean over models, No image − full: overall -" in ablations
    ablation_row = '<span title="no_image − full">No image − full</span>'
    for table, row in (("leaderboard-subgroups", "malignant − rest"), ("leaderboard-ablations", ablation_row)):
        assert f'<th scope="row">{row}</th>' in page.split(f'id="{table}"')[1].split("</table>")[0]
    assert "<script" not in page.split("</head>")[1] and ' style="' not in page


def test_leaderboard_page_draws_from_the_computed_numbers_once_and_then_from_its_cache(client, rex, world):
    from unittest import mock

    from annotation.models import Annotation
    from jury.results import inference

    client.force_login(rex)
    with mock.patch.object(inference, "ppi_leaderboard", wraps=inference.ppi_leaderboard) as computed:
        first = client.get("/campaigns/results/leaderboard/").content.decode()
        second = client.get("/campaigns/results/leaderboard/").content.decode()
    assert computed.call_count == 1 and figures(first) == figures(second)
    conversation = Conversation.objects.filter(condition="full").first()
    Judgement.objects.create(
        conversation=conversation,
        judge=Judge.objects.get(key="close"),
        prompt=JudgePrompt.objects.get(key="safety-anchored"),
        dimension="safety",
        sample_index=1,
        score=1,
    )
    with mock.patch.object(inference, "ppi_leaderboard", wraps=inference.ppi_leaderboard) as computed:
        client.get("/campaigns/results/leaderboard/")
    assert computed.call_count == 1
    # A clinician's changed score changes the estimates, so the page is computed again.
    annotation = Annotation.objects.filter(status="submitted").first()
    annotation.scores = {**annotation.scores, "safety": 1 if annotation.scores["safety"] != 1 else 5}
    annotation.save()
    with mock.patch.object(inference, "ppi_leaderboard", wraps=inference.ppi_leaderboard) as computed:
        client.get("/campaigns/results/leaderboard/")
        client.get("/campaigns/results/leaderboard/")
    assert computed.call_count == 1


def test_a_leaderboard_without_ablated_conversations_says_so_instead_of_drawing(client, rex, world):
    Judgement.objects.filter(conversation__condition__in=["no_image", "no_ehr"]).delete()
    client.force_login(rex)
    page = client.get("/campaigns/results/leaderboard/").content.decode()
    assert "ablation-figure" not in page
    assert (
        '<span title="no_image">No image</span>: not computable: no conversation has condition &#x27;no_image&#x27;'
        in page
    )
    assert "forest-models-figure" in page


def test_leaderboard_page_sets_ppi_beside_clinicians_only_and_jury_only_and_says_why_a_model_has_none(client, rex):
    from jury.results.calibration import save_calibration
    from tests.jury.results.test_inference import seed_biased_world

    cache.clear()
    campaign = seed_biased_world(thin_model="plain")
    artifact, _ = save_calibration(campaign=campaign, actor=rex)
    client.force_login(rex)
    page = client.get(f"/campaigns/{campaign.key}/leaderboard/").content.decode()
    models = page.split('id="leaderboard-models"')[1].split("</table>")[0]
    for label in ("PPI (jury + clinicians)", "clinicians only", "jury only — ignores calibration error"):
        assert label in models
    assert "n clinician-scored" in models and "n jury-scored" in models
    rows = dict(re.findall(r'<th scope="row">(\w+)</th>(.*?)</tr>', models, re.DOTALL))
    assert set(rows) == {"Steady", "Flattered", "Plain"}
    # Plain has 4 clinician-scored conversations: the reason, never a number, for PPI and clinicians only.
    thin = rows["Plain"]
    assert "Plain on overall: 4 clinician-scored conversations, fewer than the 10 needed for an interval" in thin
    assert thin.count('class="figure-value"') == 1  # the jury-only figure alone
    assert re.search(r"<td>4</td><td>48</td>", thin)
    assert rows["Steady"].count('class="figure-value"') == 3 and "<td>30</td><td>48</td>" in rows["Steady"]
    transport = page.split('id="transport"')[1].split("</section>")[0]
    assert "The calibration is biased for Flattered</strong> on overall" in transport
    assert "case bootstrap, calibration refitted per resample: safety " in page
    assert f"saved calibration v{artifact.version}" in page


def test_outsiders_and_clinicians_see_no_figures(client, carmen, otto, world):
    for user in (carmen, otto):
        client.force_login(user)
        for url in ("/campaigns/results/calibration/", "/campaigns/results/leaderboard/"):
            assert client.get(url).status_code == 403


def test_when_the_equal_jury_is_chosen_the_figure_sets_it_beside_the_best_alternative():
    from jury.results.reports import _compared_methods
    from jury.statistics import calibration

    rng = np.random.default_rng(0)
    target = rng.integers(1, 6, 60).astype(float)
    judge = np.clip(target + rng.normal(0, 0.5, 60), 1, 5)
    report = calibration.cross_validate(np.column_stack([judge, judge]), target, np.arange(60) // 2, n_folds=5)
    assert report.chosen == "equal"
    best = min((m for m in report.methods if m != "equal"), key=lambda m: report.methods[m].mae.value)
    assert _compared_methods(report) == {
        "equal": "equal-weight jury (chosen)",
        best: f"{METHOD_LABELS[best]} (best alternative, not chosen)",
    }
