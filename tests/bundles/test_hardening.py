"""Bundle import under hostile or unlucky input: failed media writes, values no column can hold, odd JSON.

Each test names the defect it closes; every rejection is a ``file:line: field: message`` and changes nothing.
"""

import copy
import errno
import hashlib
import io
import json
import zipfile

import pytest
from PIL import Image as PILImage

from annotation.models import Image, Turn
from bundles import media
from bundles.importer import import_bundle
from bundles.problems import BundleInvalid
from tests.bundle_files import base_records, png_bytes, write_bundle, zip_directory
from tests.bundles.test_importer import assert_rejected, media_files, snapshot

pytestmark = pytest.mark.django_db


def jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


def assert_every_image_is_whole() -> None:
    for image in Image.objects.all():
        assert hashlib.sha256(image.original.read()).hexdigest() == image.checksum
        with image.derivative.open("rb") as handle:
            PILImage.open(io.BytesIO(handle.read())).load()


# --------------------------------------------------------------------------- 9: media writes


def test_a_write_failing_mid_file_leaves_no_file_and_the_next_import_stores_whole_files(
    tmp_path, media_in_tmp, monkeypatch
):
    path = write_bundle(tmp_path / "bundle")
    real_write = media._write_chunk

    def disk_full(handle, chunk):
        real_write(handle, chunk[: len(chunk) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(media, "_write_chunk", disk_full)
    before = snapshot()
    with pytest.raises(OSError, match="No space left"):
        import_bundle(path=path)
    assert snapshot() == before
    assert media_files(media_in_tmp) == [], "neither a truncated file nor a temporary one is left behind"

    monkeypatch.setattr(media, "_write_chunk", real_write)
    import_bundle(path=path)
    assert_every_image_is_whole()


def test_a_truncated_file_left_by_an_earlier_failure_is_rewritten_not_reused(tmp_path, media_in_tmp):
    checksum = hashlib.sha256(png_bytes()).hexdigest()
    for folder in ("original", "web"):
        stale = media_in_tmp / "images" / folder / checksum[:2] / f"{checksum}.png"
        stale.parent.mkdir(parents=True, exist_ok=True)
        stale.write_bytes(png_bytes()[:40])

    import_bundle(path=write_bundle(tmp_path / "bundle"))

    assert_every_image_is_whole()
    assert not [p for p in media_files(media_in_tmp) if p.name.endswith(".part")]


def test_media_already_stored_with_the_right_bytes_is_kept(tmp_path, media_in_tmp):
    path = write_bundle(tmp_path / "bundle")
    import_bundle(path=path)
    stamps = {p: p.stat().st_mtime_ns for p in media_files(media_in_tmp)}
    records = base_records()
    records["cases"][0]["id"] = "case-copy"
    import_bundle(path=write_bundle(tmp_path / "copy", records))
    assert {p: p.stat().st_mtime_ns for p in media_files(media_in_tmp)} == stamps


# --------------------------------------------------------------------------- 11: no tracebacks


def test_a_fhir_field_of_the_wrong_type_is_a_problem(tmp_path, media_in_tmp):
    records = copy.deepcopy(base_records())
    records["cases"][0]["profile"]["entry"][2]["resource"]["dosage"] = 5
    assert_rejected(
        write_bundle(tmp_path / "bundle", records),
        "cases.jsonl:1: profile.entry[2].resource.dosage: must be a list, not int",
        media_in_tmp,
    )


@pytest.mark.parametrize("depth", [100, 1_000, 100_000])
def test_json_nested_too_deep_is_a_problem(tmp_path, media_in_tmp, depth):
    records = base_records()
    line = json.dumps(records["conversations"][0])[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}"
    lines = line + "\n" + jsonl(records["conversations"][1:])
    path = write_bundle(tmp_path / "bundle", records, raw_lines={"conversations.jsonl": lines})
    expected = (
        "conversations.jsonl:1: deep" + "[0]" * 63 + ": is nested deeper than 64 levels"
        if depth < 5_000
        else "conversations.jsonl:1: invalid JSON: nested deeper than 64 levels"
    )
    assert_rejected(path, expected, media_in_tmp)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_nan_and_infinity_in_unknown_keys_are_problems(tmp_path, media_in_tmp, constant):
    records = base_records()
    line = json.dumps(records["conversations"][2])[:-1] + f', "scores": {{"x": [{constant}]}}}}'
    lines = jsonl(records["conversations"][:2]) + line + "\n" + jsonl(records["conversations"][3:])
    path = write_bundle(tmp_path / "bundle", records, raw_lines={"conversations.jsonl": lines})
    shown = "-Infinity" if constant.startswith("-") else "NaN" if constant == "NaN" else "Infinity"
    assert_rejected(
        path,
        f"conversations.jsonl:3: scores.x[0]: {shown} is not a number JSON allows (no NaN or Infinity)",
        media_in_tmp,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"a\\u0000b"', "contains a NUL character (\\u0000), which the database cannot store"),
        ('"a\\ud800b"', "contains an unpaired surrogate ('\\ud800'), which is not valid Unicode"),
    ],
    ids=["nul", "surrogate"],
)
def test_strings_no_database_can_store_are_problems(tmp_path, media_in_tmp, text, expected):
    records = base_records()
    line = json.dumps(records["conversations"][0]).replace('"I am worried about this."', text, 1)
    lines = line + "\n" + jsonl(records["conversations"][1:])
    path = write_bundle(tmp_path / "bundle", records, raw_lines={"conversations.jsonl": lines})
    assert_rejected(path, f"conversations.jsonl:1: turns[0].content: {expected}", media_in_tmp)


# --------------------------------------------------------------------------- 12: refuse what no column holds


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda r: r["conversations"][0].update(id="conv-x\n"),
            "conversations.jsonl:1: id: 'conv-x\\n' is not a valid id (Use 1–200 letters, digits or . _ : @ / + - "
            "(starting with a letter or digit).)",
        ),
        (
            lambda r: r["cases"][1].update(title="t" * 301),
            "cases.jsonl:2: title: is 301 characters long; the limit is 300",
        ),
        (
            lambda r: r["cases"][0]["images"][0].update(license="l" * 201),
            "cases.jsonl:1: images[0].license: is 201 characters long; the limit is 200",
        ),
        (
            lambda r: r["manifest"]["models"][0].update(family="f" * 41),
            "manifest.json: models[0].family: is 41 characters long; the limit is 40",
        ),
        (
            lambda r: r["annotations"][0].update(annotator="a" * 151),
            f"annotations.jsonl:1: annotator: '{'a' * 78}… is 151 characters long; the limit is 150",
        ),
        (
            lambda r: r["judgements"][0].update(prompt="rubric-anchored@" + "9" * 41),
            "judgements.jsonl:1: prompt: the version is longer than 40 characters",
        ),
        (
            lambda r: r["judgements"][0].update(sample=10**20),
            "judgements.jsonl:1: sample: 100000000000000000000 is not a sample index (0, 1, ... 32767)",
        ),
    ],
    ids=["trailing-newline-id", "case-title", "image-licence", "model-family", "annotator", "prompt-version", "sample"],
)
def test_values_longer_than_their_columns_are_problems(tmp_path, media_in_tmp, mutate, expected):
    records = copy.deepcopy(base_records())
    mutate(records)
    assert_rejected(write_bundle(tmp_path / "bundle", records), expected, media_in_tmp)


def test_turns_and_rationales_have_configurable_limits(tmp_path, media_in_tmp, settings):
    assert (settings.BUNDLE_MAX_TURN_CHARS, settings.BUNDLE_MAX_RATIONALE_CHARS) == (100_000, 20_000)
    settings.BUNDLE_MAX_TURN_CHARS, settings.BUNDLE_MAX_RATIONALE_CHARS = 30, 10
    records = base_records()
    records["conversations"][4]["turns"][1]["content"] = "x" * 31
    records["annotations"][0]["rationale"] = "r" * 11
    records["judgements"][1]["raw_reply"] = "y" * 31
    error = assert_rejected(
        write_bundle(tmp_path / "bundle", records),
        "conversations.jsonl:5: turns[1].content: is 31 characters long; the limit is 30",
        media_in_tmp,
    )
    assert "annotations.jsonl:1: rationale: is 11 characters long; the limit is 10" in map(str, error.problems)
    assert "judgements.jsonl:2: raw_reply: is 31 characters long; the limit is 30" in map(str, error.problems)


def test_a_nul_in_a_zip_member_name_rejects_the_bundle(tmp_path, media_in_tmp):
    directory = write_bundle(tmp_path / "bundle")
    archive = zip_directory(directory, tmp_path / "bundle.zip")
    with zipfile.ZipFile(archive, "a") as handle:
        handle.writestr("images/lesion.pngX.exe", b"MZ")
    archive.write_bytes(archive.read_bytes().replace(b"images/lesion.pngX.exe", b"images/lesion.png\0.exe"))
    before = snapshot()
    with pytest.raises(BundleInvalid) as caught:
        import_bundle(path=archive)
    assert str(caught.value) == ("bundle.zip: a member name contains a NUL character: 'images/lesion.png\\x00.exe'")
    assert snapshot() == before and media_files(media_in_tmp) == []


def test_a_line_separator_inside_a_json_string_is_not_a_line_break(tmp_path):
    records = base_records()
    records["conversations"][0]["turns"][0]["content"] = "First line\u2028second line\u2029third\x85fourth"
    lines = jsonl(records["conversations"])
    path = write_bundle(tmp_path / "bundle", records, raw_lines={"conversations.jsonl": lines})
    assert "\u2028" in (path / "conversations.jsonl").read_text()

    import_bundle(path=path)

    turn = Turn.objects.get(conversation__key=records["conversations"][0]["id"], index=0)
    assert turn.content == "First line\u2028second line\u2029third\x85fourth"
