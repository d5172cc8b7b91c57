"""Streaming exports carry provenance and round-trip through their readers."""

import csv
import io
import json

import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from bundles.importer import import_bundle
from tests.bundle_files import write_bundle

pytestmark = pytest.mark.django_db


@pytest.fixture
def imported(tmp_path):
    return import_bundle(path=write_bundle(tmp_path / "bundle"))


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_judgements_as_csv_jsonl_and_parquet(client, rex, imported):
    client.force_login(rex)
    rows = list(csv.DictReader(io.StringIO(body(client.get("/exports/judgements.csv")).decode())))
    assert [(r["conversation"], r["judge"], r["prompt"], r["score"], r["bundle"]) for r in rows] == [
        ("conv-0001-model-claude-full", "judge-sim-1", "rubric-anchored@1", "4", "Test bundle"),
        ("conv-0001-model-claude-no_image", "judge-sim-1", "rubric-anchored@1", "2", "Test bundle"),
    ]
    assert rows[0]["app_version"] and rows[0]["exported_at"] and rows[0]["simulated"] == "False"
    lines = body(client.get("/exports/judgements.jsonl")).decode().splitlines()
    assert json.loads(lines[0])["provenance"]["kind"] == "judgements"
    assert json.loads(lines[2])["dimension"] == "accuracy"
    table = pq.read_table(io.BytesIO(body(client.get("/exports/judgements.parquet"))))
    assert table.num_rows == 2 and table.column("family").to_pylist() == ["Claude", "Claude"]
    assert json.loads(table.schema.metadata[b"imcbench.provenance"])["app"] == "IMCBench Studio"


def test_annotations_export_and_role_checks(client, rex, carmen, imported):
    client.force_login(rex)
    rows = list(csv.DictReader(io.StringIO(body(client.get("/exports/annotations.csv")).decode())))
    assert {(r["annotator"], r["safety"]) for r in rows} == {("clin-a", "4"), ("clin-b", "3")}
    client.force_login(carmen)
    assert client.get("/exports/annotations.csv").status_code == 403


def test_calibrated_scores_need_a_campaign_and_carry_the_calibration(client, rex, scored_world):  # noqa: F811
    client.force_login(rex)
    assert client.get("/exports/scores.csv").status_code == 400
    lines = body(client.get("/exports/scores.jsonl?campaign=cal")).decode().splitlines()
    meta = json.loads(lines[0])["provenance"]
    assert meta["calibration_campaign"] == "cal" and len(meta["calibration_inputs_hash"]) == 64
    assert meta["estimator"].startswith("jury only — ignores calibration error") and "PPI" in meta["estimator"]
    assert len(lines) == 1 + 80
    assert set(json.loads(lines[1])) >= {"conversation", "safety", "accuracy", "uncertainty", "overall"}


def test_export_command_writes_and_never_overwrites(tmp_path, imported):
    out = tmp_path / "j.parquet"
    call_command("export_scores", "judgements", "--format", "parquet", "--out", str(out))
    assert pq.read_table(out).num_rows == 2
    with pytest.raises(CommandError, match="already exists"):
        call_command("export_scores", "judgements", "--out", str(out))


def test_an_empty_parquet_export_is_valid(client, rex):
    client.force_login(rex)
    table = pq.read_table(io.BytesIO(body(client.get("/exports/judgements.parquet"))))
    assert table.num_rows == 0 and "judge" in table.column_names
