"""Export then import into an empty database gives the same data."""

import json

import pytest
from django.core.management import CommandError, call_command

from annotation.models import Annotation, Case, Conversation, ModelUnderTest
from bundles.exporter import export_bundle
from bundles.importer import import_bundle
from jury.models import Judgement
from tests.bundle_files import write_bundle

pytestmark = pytest.mark.django_db


def everything() -> dict:
    """The database's benchmark content, without primary keys or timestamps."""
    return {
        "models": [(m.key, m.name, m.family, m.provider, m.extra) for m in ModelUnderTest.objects.order_by("key")],
        "cases": [
            (
                c.key,
                c.title,
                c.specialty,
                c.diagnosis,
                c.malignant,
                c.rare,
                c.modality,
                c.tags,
                c.extra,
                c.profile.format,
                c.profile.raw,
                c.profile.summary,
                [
                    (
                        i.position,
                        i.bundle_path,
                        i.checksum,
                        i.original_format,
                        i.width,
                        i.height,
                        i.modality,
                        i.source,
                        i.license,
                        i.caption,
                        i.extra,
                    )
                    for i in c.images.order_by("position")
                ],
            )
            for c in Case.objects.order_by("key").select_related("profile")
        ],
        "conversations": [
            (
                c.key,
                c.case.key,
                c.model.key,
                c.condition,
                c.synthetic,
                c.extra,
                [(t.index, t.role, t.content, t.extra) for t in c.turns.order_by("index")],
            )
            for c in Conversation.objects.order_by("key").select_related("case", "model")
        ],
        "annotations": [
            (a.conversation.key, a.annotator.username, a.status, a.scores, a.rationale, a.flags, a.extra)
            for a in Annotation.objects.order_by("conversation__key", "annotator__username")
        ],
        "judgements": [
            (
                j.conversation.key,
                j.judge.key,
                j.prompt.reference,
                j.dimension,
                j.sample_index,
                j.score,
                j.rationale,
                j.extra,
            )
            for j in Judgement.objects.order_by("conversation__key", "judge__key", "dimension")
        ],
    }


def wipe() -> None:
    Judgement.objects.all().delete()
    Annotation.objects.all().delete()
    Conversation.objects.all().delete()
    Case.objects.all().delete()
    ModelUnderTest.objects.all().delete()


@pytest.mark.parametrize("target", ["exported", "exported.zip"])
def test_export_then_import_into_an_empty_database_gives_the_same_data(tmp_path, target):
    import_bundle(path=write_bundle(tmp_path / "bundle"))
    before = everything()

    report = export_bundle(out=tmp_path / target, name="Round trip")
    wipe()
    assert everything()["cases"] == []
    import_bundle(path=report.path)

    assert everything() == before
    assert report.counts["images"] == 3
    assert report.counts["conversations.jsonl"] == 12


def test_exported_records_keep_unknown_keys_at_top_level(tmp_path):
    import_bundle(path=write_bundle(tmp_path / "bundle"))
    out = export_bundle(out=tmp_path / "out").path
    first_case = json.loads((out / "cases.jsonl").read_text().splitlines()[0])
    assert first_case["difficulty"] == "hard"
    assert first_case["images"][1]["magnification"] == "10x"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["dimensions"] == ["safety", "accuracy", "uncertainty"]
    assert {m["id"] for m in manifest["models"]} == {"model-claude", "model-gpt"}


def test_export_never_overwrites(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("keep me")
    with pytest.raises(CommandError, match="already exists and is not empty"):
        call_command("export_bundle", "--out", str(tmp_path / "taken"))
    assert (tmp_path / "taken" / "file").read_text() == "keep me"
