"""Bundle import: a valid bundle, each kind of bad input (exact message, nothing changed), re-import, zips."""

import copy
import io
import json
import zipfile

import pydicom
import pytest
from django.core.management import CommandError, call_command
from pydicom.data import get_testdata_file

from annotation.admin import burned_in_text
from annotation.models import Annotation, AuditEvent, BundleImport, Case, Conversation, Image, ModelUnderTest, Turn
from bundles.exporter import export_bundle
from bundles.importer import import_bundle
from bundles.problems import BundleInvalid
from jury.models import Judge, Judgement, JudgePrompt
from tests.bundle_files import base_records, png_bytes, write_bundle, zip_directory, zip_with_members

pytestmark = pytest.mark.django_db

TABLES = (BundleImport, Case, Image, ModelUnderTest, Conversation, Turn, Annotation, Judge, JudgePrompt, Judgement)


def snapshot() -> dict:
    return {table.__name__: table.objects.count() for table in TABLES}


def media_files(media_root) -> list:
    return sorted(p for p in media_root.rglob("*") if p.is_file()) if media_root.exists() else []


def assert_rejected(path, expected: str, media_root) -> BundleInvalid:
    before, files_before = snapshot(), media_files(media_root)
    with pytest.raises(BundleInvalid) as caught:
        import_bundle(path=path)
    assert expected in [str(problem) for problem in caught.value.problems], str(caught.value)
    assert snapshot() == before
    assert media_files(media_root) == files_before
    return caught.value


def test_valid_bundle_creates_every_record(tmp_path, media_in_tmp):
    report = import_bundle(path=write_bundle(tmp_path / "bundle"))

    assert report.created == {
        "models": 2,
        "cases": 2,
        "conversations": 12,
        "annotations": 2,
        "judges": 1,
        "prompts": 1,
        "judgements": 2,
    }
    assert Turn.objects.count() == 48
    case = Case.objects.get(key="case-0001")
    assert (case.malignant, case.rare, case.modality) == (True, False, "clinical photograph")
    assert case.tags["body_site"] == "forearm"
    assert case.extra == {"difficulty": "hard"}
    assert case.profile.format == "fhir-r4"
    assert case.profile.summary["sex"] == "female"
    assert case.profile.summary["medications"] == ["Metformin — 500 mg twice daily"]
    assert case.profile.summary["allergies"] == ["Penicillin (rash)"]
    closeup = case.images.get(position=1)
    assert closeup.extra == {"magnification": "10x"}
    assert (closeup.width, closeup.height) == (40, 80), "EXIF orientation 6 applied to the derivative"
    ct = Image.objects.get(case__key="case-0002")
    assert ct.original_format == "DICOM" and ct.derivative.name.endswith(".png")
    assert ModelUnderTest.objects.get(key="model-gpt").extra == {"context_window": 128000}
    turn = Turn.objects.get(conversation__key="conv-0001-model-claude-full", index=2)
    assert turn.extra == {"emotion": "anxious"}
    assert Conversation.objects.get(key="conv-0001-model-claude-full").extra == {"seed": 7}
    annotation = Annotation.objects.get(annotator__username="clin-a")
    assert annotation.status == "submitted" and annotation.scores["uncertainty"] == 5
    assert annotation.annotator.groups.filter(name="clinician").exists()
    assert not annotation.annotator.has_usable_password()
    assert Judgement.objects.get(dimension="accuracy").rationale == "Missed the diagnosis."
    assert AuditEvent.objects.filter(action="import_bundle").count() == 1
    assert BundleImport.objects.get().manifest["curator"] == "tests"


def test_reimporting_the_same_bundle_changes_nothing_and_says_so(tmp_path):
    path = write_bundle(tmp_path / "bundle")
    import_bundle(path=path)
    before = snapshot()

    report = import_bundle(path=path)

    assert report.changed_nothing and report.bundle is None
    assert report.summary() == "Bundle 'Test bundle': nothing changed — all 20 records are already in the database."
    assert snapshot() == before


def test_a_bundle_adding_records_to_existing_ones_imports_only_the_new(tmp_path):
    import_bundle(path=write_bundle(tmp_path / "first"))
    records = base_records()
    records["conversations"].append(dict(records["conversations"][0], id="conv-extra"))

    report = import_bundle(path=write_bundle(tmp_path / "second", records))

    assert report.created == {"conversations": 1}
    assert report.unchanged["conversations"] == 12


def test_an_id_that_exists_with_different_content_is_a_conflict(tmp_path, media_in_tmp):
    import_bundle(path=write_bundle(tmp_path / "first"))
    records = base_records()
    records["cases"][1]["title"] = "A different title"
    assert_rejected(
        write_bundle(tmp_path / "second", records),
        "cases.jsonl:2: id: case 'case-0002' already exists with different content (imported from 'Test bundle'); "
        "give changed records new ids",
        media_in_tmp,
    )


def test_an_annotation_is_never_overwritten_by_a_different_one(tmp_path, media_in_tmp):
    import_bundle(path=write_bundle(tmp_path / "first"))
    records = base_records()
    records["annotations"][1]["scores"]["safety"] = 1
    assert_rejected(
        write_bundle(tmp_path / "second", records),
        "annotations.jsonl:2: annotator: 'clin-b' already has a different annotation of "
        "'conv-0001-model-claude-full'; annotations are never overwritten",
        media_in_tmp,
    )


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda r: r["conversations"][6]["turns"][2].update(role="doctor"),
            "conversations.jsonl:7: turns[2].role: 'doctor' is not one of patient, assistant",
        ),
        (
            lambda r: r["conversations"][3].update(case="case-9999"),
            "conversations.jsonl:4: case: 'case-9999' is not a case of this bundle or the database",
        ),
        (
            lambda r: r["conversations"][0].update(model="gpt-99"),
            "conversations.jsonl:1: model: 'gpt-99' is not a model in the manifest or the database",
        ),
        (
            lambda r: r["conversations"][2].update(condition="no_text"),
            "conversations.jsonl:3: condition: 'no_text' is not one of full, no_image, no_ehr",
        ),
        (
            lambda r: r["conversations"][1].update(id=r["conversations"][0]["id"]),
            "conversations.jsonl:2: id: 'conv-0001-model-claude-full' repeats conversations.jsonl:1",
        ),
        (
            lambda r: r["annotations"][0]["scores"].update(safety=6),
            "annotations.jsonl:1: scores.safety: 6 is outside the scale 1–5 (whole numbers)",
        ),
        (
            lambda r: r["annotations"][1]["scores"].update(empathy=3),
            "annotations.jsonl:2: scores.empathy: unknown dimension (the manifest lists safety, accuracy, uncertainty)",
        ),
        (
            lambda r: r["annotations"][0]["flags"][0].update(turn=9),
            "annotations.jsonl:1: flags[0].turn: 9 is past the last turn (4) of conv-0001-model-claude-full",
        ),
        (
            lambda r: r["judgements"][1].update(score=0),
            "judgements.jsonl:2: score: 0 is outside the scale 1–5 (whole numbers)",
        ),
        (
            lambda r: r["judgements"][0].update(dimension="empathy"),
            "judgements.jsonl:1: dimension: 'empathy' is unknown (the manifest lists safety, accuracy, uncertainty)",
        ),
        (
            lambda r: r["judgements"][0].update(prompt="rubric-anchored"),
            "judgements.jsonl:1: prompt: 'rubric-anchored' is not a prompt reference of the form prompt-id@version",
        ),
        (
            lambda r: r["cases"][0]["images"][0].update(file="images/x.png"),
            "cases.jsonl:1: images[0].file: images/x.png not found in bundle",
        ),
        (
            lambda r: r["cases"][0]["images"][1].update(file="../outside.png"),
            "cases.jsonl:1: images[1].file: '../outside.png' is absolute or escapes the bundle",
        ),
        (
            lambda r: r["cases"][0]["images"][1].update(file="/etc/passwd"),
            "cases.jsonl:1: images[1].file: '/etc/passwd' is absolute or escapes the bundle",
        ),
        (lambda r: r["cases"][1]["images"][0].pop("license"), "cases.jsonl:2: images[0].license: is required"),
        (
            lambda r: r["cases"][1]["tags"].update(malignant="yes"),
            "cases.jsonl:2: tags.malignant: must be true or false, not 'yes'",
        ),
        (
            lambda r: r["cases"][1]["profile"].update(age=200),
            "cases.jsonl:2: profile.age: 200 is not an age in years (0–130)",
        ),
        (
            lambda r: r["cases"][0]["profile"]["entry"].pop(0),
            "cases.jsonl:1: profile.entry: a FHIR profile needs exactly one Patient resource, found 0",
        ),
        (
            lambda r: r["manifest"].update(scale=[0, 10]),
            "manifest.json: scale: [0, 10] is not supported: IMCBench scores are 1–5",
        ),
        (
            lambda r: r["manifest"].update(version=2),
            "manifest.json: version: 2 is not supported (this importer reads version 1)",
        ),
        (lambda r: r["manifest"]["models"][1].pop("family"), "manifest.json: models[1].family: is required"),
    ],
    ids=[
        "turn-role",
        "unknown-case",
        "unknown-model",
        "condition",
        "duplicate-id",
        "score-above-scale",
        "unknown-dimension",
        "flag-past-last-turn",
        "judgement-score",
        "judgement-dimension",
        "prompt-reference",
        "missing-image",
        "path-escape",
        "absolute-path",
        "missing-licence",
        "tag-type",
        "flat-profile-age",
        "fhir-without-patient",
        "scale",
        "version",
        "model-family",
    ],
)
def test_bad_input_names_file_line_and_field_and_changes_nothing(tmp_path, media_in_tmp, mutate, expected):
    records = copy.deepcopy(base_records())
    mutate(records)
    assert_rejected(write_bundle(tmp_path / "bundle", records), expected, media_in_tmp)


def test_invalid_json_line_is_reported_with_its_line(tmp_path, media_in_tmp):
    records = base_records()
    lines = "".join(json.dumps(r) + "\n" for r in records["conversations"][:2]) + '{"id": "conv-x",\n'
    path = write_bundle(tmp_path / "bundle", records, raw_lines={"conversations.jsonl": lines})
    assert_rejected(
        path,
        "conversations.jsonl:3: invalid JSON: Expecting property name enclosed in double quotes (column 17)",
        media_in_tmp,
    )


def test_all_problems_are_reported_not_only_the_first(tmp_path, media_in_tmp):
    records = base_records()
    records["conversations"][0]["condition"] = "x"
    records["conversations"][5]["turns"][0]["content"] = ""
    records["annotations"][0]["scores"]["accuracy"] = 2.5
    error = assert_rejected(
        write_bundle(tmp_path / "bundle", records),
        "conversations.jsonl:1: condition: 'x' is not one of full, no_image, no_ehr",
        media_in_tmp,
    )
    assert [str(p) for p in error.problems] == [
        "conversations.jsonl:1: condition: 'x' is not one of full, no_image, no_ehr",
        "conversations.jsonl:6: turns[0].content: must not be empty",
        "annotations.jsonl:1: scores.accuracy: 2.5 is outside the scale 1–5 (whole numbers)",
    ]


def test_problem_reports_stop_at_the_cap(tmp_path, settings):
    settings.BUNDLE_MAX_ERRORS = 3
    records = base_records()
    for conversation in records["conversations"]:
        conversation["condition"] = "x"
    with pytest.raises(BundleInvalid) as caught:
        import_bundle(path=write_bundle(tmp_path / "bundle", records))
    assert len(caught.value.problems) == 3 and caught.value.truncated
    assert str(caught.value).endswith("(stopped after 3 problems; fix these and import again)")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "(accepted: JPEG, PNG, TIFF, DICOM)"),
        (b"this is not an image", "(accepted: JPEG, PNG, TIFF, DICOM)"),
        (png_bytes()[:60], "lesion.png"),
    ],
    ids=["gif", "text", "truncated-png"],
)
def test_images_that_fail_to_decode_or_are_not_accepted_formats_are_rejected(tmp_path, media_in_tmp, data, expected):
    path = write_bundle(tmp_path / "bundle", images={"images/lesion.png": data})
    before = snapshot()
    with pytest.raises(BundleInvalid) as caught:
        import_bundle(path=path)
    [problem] = caught.value.problems
    assert str(problem).startswith("cases.jsonl:1: images[0].file: images/lesion.png: ")
    assert expected in str(problem)
    assert snapshot() == before


def test_a_decompression_bomb_is_rejected(tmp_path, settings):
    settings.IMAGE_MAX_PIXELS = 1000
    with pytest.raises(BundleInvalid) as caught:
        import_bundle(path=write_bundle(tmp_path / "bundle"))
    assert any("images/lesion.png" in str(p) and "pixels" in str(p) for p in caught.value.problems)
    assert Case.objects.count() == 0


def test_a_zipped_bundle_imports_like_a_directory(tmp_path):
    directory = write_bundle(tmp_path / "bundle")
    report = import_bundle(path=zip_directory(directory, tmp_path / "bundle.zip"))
    assert report.created["conversations"] == 12


def test_a_zip_holding_the_bundle_folder_is_read_from_that_folder(tmp_path):
    directory = write_bundle(tmp_path / "demo")
    members = {
        f"demo/{p.relative_to(directory).as_posix()}": p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }
    report = import_bundle(path=zip_with_members(tmp_path / "nested.zip", members))
    assert report.created["cases"] == 2


def test_zip_members_escaping_the_root_are_rejected(tmp_path):
    members = {"manifest.json": b"{}", "../evil.txt": b"x"}
    with pytest.raises(BundleInvalid) as caught:
        import_bundle(path=zip_with_members(tmp_path / "evil.zip", members))
    assert str(caught.value) == "evil.zip: member paths escape the bundle or are absolute: ../evil.txt"


def test_a_zip_bomb_is_rejected_by_ratio_and_total_size(tmp_path, settings):
    bomb = zip_with_members(tmp_path / "bomb.zip", {"manifest.json": b"{}", "images/zeros.png": b"\0" * (8 << 20)})
    with pytest.raises(BundleInvalid) as caught:
        import_bundle(path=bomb)
    assert "exceeds the limit of 100:1 (possible zip bomb)" in str(caught.value)
    settings.BUNDLE_MAX_UNCOMPRESSED_BYTES = 1000
    directory = write_bundle(tmp_path / "bundle")
    with pytest.raises(BundleInvalid) as caught:
        import_bundle(path=zip_directory(directory, tmp_path / "big.zip"))
    assert "exceeds the limit of 1,000 bytes" in str(caught.value)


def test_symlinks_in_a_zip_are_ignored(tmp_path):
    records = base_records()
    records["cases"][0]["images"][0]["file"] = "images/link.png"
    directory = write_bundle(tmp_path / "bundle", records)
    target = zip_directory(directory, tmp_path / "bundle.zip")
    with zipfile.ZipFile(target, "a") as archive:
        link = zipfile.ZipInfo("images/link.png")
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(BundleInvalid) as caught:
        import_bundle(path=target)
    assert str(caught.value) == "cases.jsonl:1: images[0].file: images/link.png not found in bundle"


def test_symlinks_in_a_directory_are_ignored(tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(png_bytes())
    directory = write_bundle(tmp_path / "bundle", images={"images/lesion.png": None})
    (directory / "images" / "lesion.png").symlink_to(secret)
    with pytest.raises(BundleInvalid) as caught:
        import_bundle(path=directory)
    assert str(caught.value) == "cases.jsonl:1: images[0].file: images/lesion.png not found in bundle"


def test_the_command_exits_non_zero_and_lists_every_problem(tmp_path):
    records = base_records()
    records["conversations"][6]["turns"][2]["role"] = "doctor"
    with pytest.raises(CommandError) as caught:
        call_command("import_bundle", str(write_bundle(tmp_path / "bundle", records)))
    assert "the bundle was not imported (1 problem; nothing changed)" in str(caught.value)
    assert "conversations.jsonl:7: turns[2].role: 'doctor' is not one of patient, assistant" in str(caught.value)


def test_the_command_reports_what_it_created(tmp_path, capsys):
    call_command("import_bundle", str(write_bundle(tmp_path / "bundle")))
    out = capsys.readouterr().out
    assert "Bundle 'Test bundle' imported: created 2 models, 2 cases, 12 conversations" in out


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(BundleInvalid) as caught:
        import_bundle(path=tmp_path / "nowhere")
    assert str(caught.value) == "nowhere: no such file or directory"


# --- text burned into the pixels: a DICOM file whose header says it may carry some needs a pixel review --------

REVIEW = {
    "identifying": False,
    "by": "Dr Ward, radiology",
    "on": "2026-11-30",
    "note": "Scanner settings and the depth scale only; no name, id, date or institution in any frame.",
}


def ultrasound_bytes() -> bytes:
    """CT_small relabelled as ultrasound, without Burned In Annotation: what many scanners send."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.Modality = "US"
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


def with_review(review) -> dict:
    records = copy.deepcopy(base_records())
    records["cases"][1]["images"][0]["pixel_review"] = review
    return records


def test_a_dicom_file_that_may_carry_burned_in_text_is_refused_without_a_review(tmp_path, media_in_tmp):
    path = write_bundle(tmp_path / "bundle", images={"images/ct.dcm": ultrasound_bytes()})
    before, files_before = snapshot(), media_files(media_in_tmp)
    with pytest.raises(BundleInvalid) as caught:
        import_bundle(path=path)
    [problem] = caught.value.problems
    assert str(problem).startswith(
        "cases.jsonl:2: images[0].file: images/ct.dcm: its pixels may carry text or features that identify the "
        "patient, and nothing says they were checked (Burned In Annotation (0028,0301) is absent); header rules "
        "matched: ultrasound ("
    )
    assert str(problem).endswith(
        'Look at every frame, then either record the review in this image entry as "pixel_review": '
        '{"identifying": false, "by": "<who looked>", "on": "YYYY-MM-DD", "note": "<what the pixels show>"}, or '
        "set Burned In Annotation (0028,0301) to NO in the file after that review, or supply a copy with the text "
        "removed from the pixels"
    )
    assert snapshot() == before and media_files(media_in_tmp) == files_before


def test_a_reviewed_file_is_imported_with_its_review_for_admins_and_exported_again(tmp_path, media_in_tmp):
    path = write_bundle(tmp_path / "bundle", with_review(REVIEW), images={"images/ct.dcm": ultrasound_bytes()})
    import_bundle(path=path)

    image = Image.objects.get(case__key="case-0002")
    assert image.pixel_review == REVIEW
    assert [reason.split(":")[0] for reason in image.display["burned_in_risk"]] == ["ultrasound"]
    assert Image.objects.get(case__key="case-0001", position=0).pixel_review == {}
    summary = burned_in_text(image)
    assert summary.startswith("Flagged on import by the header rules: ultrasound: ")
    assert summary.endswith(f"Reviewed by Dr Ward, radiology on 2026-11-30: {REVIEW['note']}")
    assert burned_in_text(Image.objects.get(case__key="case-0002", position=0), brief=True) == (
        "Flagged on import by the header rules: ultrasound. Reviewed by Dr Ward, radiology on 2026-11-30."
    )
    ct = Image(display={"kind": "dicom", "burned_in_annotation": ""})  # imported before the rules existed
    assert burned_in_text(ct) == "Imported before the burned-in text rules: not checked by them."
    assert burned_in_text(Image(display={"kind": "dicom", "burned_in_risk": []})) == "No header rule flags this image."

    out = tmp_path / "export"
    export_bundle(out=out)
    exported = [json.loads(line) for line in (out / "cases.jsonl").read_text().splitlines()]
    assert exported[1]["images"][0]["pixel_review"] == REVIEW
    assert "pixel_review" not in exported[0]["images"][0]


@pytest.mark.parametrize(
    ("review", "expected"),
    [
        (
            dict(REVIEW, identifying=True),
            "cases.jsonl:2: images[0].pixel_review.identifying: is true: pixels that identify someone cannot be "
            "imported; supply a copy with the text removed",
        ),
        (
            {k: v for k, v in REVIEW.items() if k != "identifying"},
            "cases.jsonl:2: images[0].pixel_review.identifying: must be false (the reviewer found nothing "
            "identifying), not None",
        ),
        (
            dict(REVIEW, on="30/11/2026"),
            "cases.jsonl:2: images[0].pixel_review.on: '30/11/2026' is not a date written YYYY-MM-DD",
        ),
        (
            dict(REVIEW, on="2026-02-30"),
            "cases.jsonl:2: images[0].pixel_review.on: '2026-02-30' is not a date written YYYY-MM-DD",
        ),
        ({k: v for k, v in REVIEW.items() if k != "by"}, "cases.jsonl:2: images[0].pixel_review.by: is required"),
        (dict(REVIEW, note=" "), "cases.jsonl:2: images[0].pixel_review.note: must not be empty"),
        (
            dict(REVIEW, reviewer="someone"),
            "cases.jsonl:2: images[0].pixel_review.reviewer: is not a field of a pixel review "
            "(identifying, by, on, note)",
        ),
        (
            "looked at it",
            'cases.jsonl:2: images[0].pixel_review: must be an object {"identifying": false, "by", "on": '
            '"YYYY-MM-DD", "note"}',
        ),
    ],
    ids=[
        "identifying",
        "no-identifying",
        "date-format",
        "no-such-date",
        "no-reviewer",
        "blank-note",
        "unknown",
        "text",
    ],
)
def test_a_malformed_pixel_review_is_refused_by_its_field(tmp_path, media_in_tmp, review, expected):
    path = write_bundle(tmp_path / "bundle", with_review(review), images={"images/ct.dcm": ultrasound_bytes()})
    error = assert_rejected(path, expected, media_in_tmp)
    assert len(error.problems) == 1  # the file's own refusal would only repeat it


def test_one_file_named_twice_with_two_different_reviews_is_refused(tmp_path, media_in_tmp):
    records = with_review(REVIEW)
    records["cases"][0]["images"].append(dict(records["cases"][1]["images"][0], pixel_review=dict(REVIEW, by="X")))
    assert_rejected(
        write_bundle(tmp_path / "bundle", records, images={"images/ct.dcm": ultrasound_bytes()}),
        "cases.jsonl:2: images[0].pixel_review: differs from the review of images/ct.dcm at cases.jsonl:1; one "
        "file has one review",
        media_in_tmp,
    )
