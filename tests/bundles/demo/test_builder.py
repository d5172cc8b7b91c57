"""The demo bundle that bundles.demo.builder writes: deterministic, complete, honest about its images and its
synthetic content, and faithful to the constraints of each condition (no image, no EHR)."""

import hashlib
import json
import re
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from PIL import Image as PILImage
from pydicom import dcmread

from bundles.demo import builder as demo
from bundles.profiles import summarise_profile

DIMENSIONS = ("safety", "accuracy", "uncertainty")
# What an assistant that was not given the image must never say.
SEEING = re.compile(
    r"\b(i can see|i see\b|looking at|you shared|you've shared|in the (image|picture|photo|scan|x-ray)|"
    r"(image|picture|photo|scan) shows|on the (image|picture|photo)|as shown|visible)",
    re.IGNORECASE,
)


def read_bundle(path: Path) -> dict:
    def lines(name: str) -> list[dict]:
        return [json.loads(line) for line in (path / name).read_text(encoding="utf-8").splitlines()]

    return {
        "manifest": json.loads((path / "manifest.json").read_text(encoding="utf-8")),
        "cases": lines("cases.jsonl"),
        "conversations": lines("conversations.jsonl"),
        "annotations": lines("annotations.jsonl"),
    }


def all_files(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory) -> Path:
    return demo.build_demo_bundle(out_dir=tmp_path_factory.mktemp("demo") / "bundle")


@pytest.fixture(scope="module")
def bundle(bundle_dir) -> dict:
    return read_bundle(bundle_dir)


def assistant_turns(conversation: dict) -> list[str]:
    return [turn["content"] for turn in conversation["turns"] if turn["role"] == "assistant"]


def profile_names(profile: dict) -> tuple[list[str], list[str]]:
    """Medication names and allergy substances named by a FHIR or flat profile."""
    if profile.get("resourceType") == "Bundle":
        resources = [entry["resource"] for entry in profile["entry"]]
        medications = [
            r["medicationCodeableConcept"]["text"] for r in resources if r["resourceType"] == "MedicationStatement"
        ]
        allergies = [r["code"]["text"] for r in resources if r["resourceType"] == "AllergyIntolerance"]
    else:
        medications, allergies = profile["medications"], profile["allergies"]
    drug_names = [re.split(r"\s\d", text, maxsplit=1)[0].strip() for text in medications]
    substances = [
        re.split(r"\s[(—]", text, maxsplit=1)[0].strip()
        for text in allergies
        if not text.lower().startswith("no known")
    ]
    return drug_names, substances


def test_two_builds_with_the_same_seed_are_byte_identical(bundle_dir, tmp_path):
    again = demo.build_demo_bundle(out_dir=tmp_path / "again", seed=2026)
    assert all_files(again) == all_files(bundle_dir)


def test_another_seed_changes_the_synthetic_content_but_not_the_images(bundle_dir, tmp_path):
    other = all_files(demo.build_demo_bundle(out_dir=tmp_path / "other", seed=7))
    first = all_files(bundle_dir)
    assert other["conversations.jsonl"] != first["conversations.jsonl"]
    assert {k: v for k, v in other.items() if k.startswith("images/")} == {
        k: v for k, v in first.items() if k.startswith("images/")
    }


def test_rebuilding_replaces_an_earlier_bundle_but_refuses_other_directories(tmp_path):
    target = tmp_path / "bundle"
    demo.build_demo_bundle(out_dir=target)
    (target / "images" / "stale.png").write_bytes(b"left over")
    demo.build_demo_bundle(out_dir=target)
    assert not (target / "images" / "stale.png").exists()

    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        demo.build_demo_bundle(out_dir=precious)
    assert (precious / "notes.txt").read_text() == "mine"
    assert not list(tmp_path.glob(".*building*"))


def test_main_writes_the_bundle_and_reports_errors(tmp_path, capsys):
    assert demo.main([str(tmp_path / "cli"), "--seed", "2026"]) == 0
    assert (tmp_path / "cli" / "manifest.json").is_file()
    assert "wrote" in capsys.readouterr().out

    (tmp_path / "occupied").mkdir()
    (tmp_path / "occupied" / "x").write_text("x")
    assert demo.main([str(tmp_path / "occupied")]) == 1
    assert "error:" in capsys.readouterr().err


def test_manifest_declares_eight_simulated_models_in_four_families(bundle):
    manifest = bundle["manifest"]
    assert manifest["format"] == "imcbench-bundle"
    assert manifest["version"] == 1
    assert manifest["dimensions"] == list(DIMENSIONS)
    assert manifest["scale"] == [1, 5]
    assert manifest["synthetic"] is True
    assert "synthetic" in manifest["description"].lower()
    assert "not real model output" in manifest["description"].lower()
    models = manifest["models"]
    assert len(models) == 8
    assert len({model["id"] for model in models}) == 8
    assert Counter(model["family"] for model in models) == {"Claude": 2, "GPT": 2, "Nova": 2, "Llama": 2}
    assert {model["provider"] for model in models} == {"simulated"}
    assert all(model["name"].startswith("Demo ") for model in models)


def test_cases_cover_specialties_malignant_and_rare(bundle):
    cases = bundle["cases"]
    assert len(cases) >= 20
    assert len({case["id"] for case in cases}) == len(cases)
    assert sum(case["tags"]["malignant"] for case in cases) >= 6
    assert sum(case["tags"]["rare"] for case in cases) >= 4
    specialties = {case["specialty"] for case in cases}
    assert {"ophthalmology", "pathology", "obstetrics", "neurology", "musculoskeletal"} <= specialties
    assert all(case["title"] and case["diagnosis"] for case in cases)
    assert all(1 <= len(case["images"]) <= 2 for case in cases)
    assert any(len(case["images"]) == 2 for case in cases)


def test_every_image_entry_names_its_source_and_licence_and_the_file_is_the_original(bundle, bundle_dir):
    sources = {source.file: source for source in demo.IMAGES.values()}
    for case in bundle["cases"]:
        for image in case["images"]:
            assert image["source"].strip() and image["license"].strip() and image["caption"].strip()
            assert image["modality"]
            assert len(image["license"]) <= 200 and len(image["source"]) <= 500  # the Image model's columns
            path = bundle_dir / image["file"]
            assert path.is_file(), image["file"]
            original = demo.locate_image(sources[path.name]).read_bytes()
            assert path.read_bytes() == original
            assert hashlib.sha256(original).hexdigest() == image["sha256"]
    assert {p.name for p in (bundle_dir / "images").iterdir()} == {
        Path(image["file"]).name for case in bundle["cases"] for image in case["images"]
    }


def test_every_image_file_decodes(bundle_dir):
    for path in sorted((bundle_dir / "images").iterdir()):
        if path.suffix == ".dcm":
            dataset = dcmread(path)
            pixels = dataset.pixel_array
            assert pixels.size > 0 and pixels.shape[-2:] != (0, 0), path.name
        else:
            with PILImage.open(path) as image:
                image.load()
                assert image.width > 0 and image.height > 0, path.name


def test_the_notice_names_every_image_file(bundle_dir):
    notice = (bundle_dir / "NOTICE.txt").read_text(encoding="utf-8")
    for path in (bundle_dir / "images").iterdir():
        assert path.name in notice


def test_profiles_are_fhir_bundles_with_a_patient_or_flat_records(bundle):
    flat = 0
    for case, spec in zip(bundle["cases"], demo.CASES, strict=True):
        profile = case["profile"]
        fmt, summary = summarise_profile(profile, today=demo.REFERENCE_DATE)
        assert summary["age"] == spec.age and summary["sex"] == spec.sex, case["id"]
        if fmt == "flat":
            flat += 1
            assert profile["medications"] and profile["allergies"] and profile["history"]
            continue
        assert profile["type"] == "collection"
        kinds = Counter(entry["resource"]["resourceType"] for entry in profile["entry"])
        assert kinds["Patient"] == 1
        for kind in ("Condition", "MedicationStatement", "AllergyIntolerance", "Observation"):
            assert kinds[kind] >= 1, (case["id"], kind)
        patient = next(e["resource"] for e in profile["entry"] if e["resource"]["resourceType"] == "Patient")
        assert patient["gender"] in ("female", "male")
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", patient["birthDate"])
        quantities = [e["resource"] for e in profile["entry"] if "valueQuantity" in e["resource"]]
        assert quantities and all(isinstance(r["valueQuantity"]["value"], int | float) for r in quantities)
        assert any(
            e["resource"]["resourceType"] == "Observation" and "component" in e["resource"] for e in profile["entry"]
        )  # blood pressure
    assert 2 <= flat <= 3
    no_known = re.compile(r"No known (drug )?allergies")
    assert any(no_known.search(json.dumps(case["profile"])) for case in bundle["cases"])


def test_every_case_model_and_condition_has_exactly_one_conversation(bundle):
    cases = {case["id"] for case in bundle["cases"]}
    models = {model["id"] for model in bundle["manifest"]["models"]}
    conversations = bundle["conversations"]
    assert len(conversations) == len(cases) * len(models) * 3 >= 480
    assert len({c["id"] for c in conversations}) == len(conversations)
    assert Counter((c["case"], c["model"], c["condition"]) for c in conversations) == {
        (case, model, condition): 1 for case in cases for model in models for condition in demo.CONDITIONS
    }
    for conversation in conversations:
        assert conversation["synthetic"] is True
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,199}", conversation["id"])
        quality = conversation["demo_quality"]
        assert set(quality) == set(DIMENSIONS)
        assert all(1.0 <= value <= 5.0 for value in quality.values())


def test_turns_alternate_starting_with_the_patient(bundle):
    for conversation in bundle["conversations"]:
        turns = conversation["turns"]
        assert 4 <= len(turns) <= 8
        assert [turn["role"] for turn in turns] == ["patient", "assistant"] * (len(turns) // 2)
        assert all(turn["content"].strip() for turn in turns)


def test_assistant_never_claims_to_see_an_image_it_was_not_given(bundle):
    checked = 0
    for conversation in bundle["conversations"]:
        if conversation["condition"] != "no_image":
            continue
        for text in assistant_turns(conversation):
            assert not SEEING.search(text), (conversation["id"], text)
            checked += 1
    assert checked >= 25 * 8 * 2
    # The pattern is not vacuous: with the image, assistants do describe what they see.
    assert any(SEEING.search(" ".join(assistant_turns(c))) for c in bundle["conversations"] if c["condition"] == "full")


def test_assistant_cites_no_profile_details_without_the_ehr(bundle):
    profiles = {case["id"]: case["profile"] for case in bundle["cases"]}
    cited_with_ehr = 0
    for conversation in bundle["conversations"]:
        drugs, substances = profile_names(profiles[conversation["case"]])
        assert drugs, conversation["case"]
        text = " ".join(assistant_turns(conversation)).lower()
        named = [name for name in drugs + substances if name.lower() in text]
        if conversation["condition"] == "no_ehr":
            assert not named, (conversation["id"], named)
        elif named:
            cited_with_ehr += 1
    assert cited_with_ehr > 100  # with the record, assistants do use it


def test_text_follows_the_hidden_quality(bundle):
    for conversation in bundle["conversations"]:
        quality = conversation["demo_quality"]
        first, safety = assistant_turns(conversation)[:2]
        if quality["safety"] < 2.5:
            assert safety.startswith("Honestly,"), conversation["id"]  # false reassurance
        elif quality["safety"] >= 3.6:
            assert " if " in safety and not safety.startswith("Honestly,"), conversation["id"]  # red flags
        if quality["uncertainty"] < 2.5:
            assert re.search(r"no doubt|clearly|definitely|confident", first), conversation["id"]
        elif quality["uncertainty"] >= 3.6:
            assert re.search(r"can't be (certain|sure)|unsure", first), conversation["id"]


def test_quality_differs_by_model_and_condition(bundle):
    def mean(rows, dimension):
        return sum(row["demo_quality"][dimension] for row in rows) / len(rows)

    conversations = bundle["conversations"]
    models = [model["id"] for model in bundle["manifest"]["models"]]
    means = sorted(mean([c for c in conversations if c["model"] == model], "accuracy") for model in models)
    assert means[-1] - means[0] > 1.0
    full = [c for c in conversations if c["condition"] == "full"]
    for condition in ("no_image", "no_ehr"):
        ablated = [c for c in conversations if c["condition"] == condition]
        assert mean(ablated, "accuracy") < mean(full, "accuracy")
        assert mean(ablated, "safety") < mean(full, "safety")
    malignant = {case["id"] for case in bundle["cases"] if case["tags"]["malignant"]}
    assert mean([c for c in conversations if c["case"] in malignant], "safety") < mean(
        [c for c in conversations if c["case"] not in malignant], "safety"
    )


def test_simulated_annotations_cover_about_forty_percent_with_overlap(bundle):
    conversations = {c["id"]: c for c in bundle["conversations"]}
    annotations = bundle["annotations"]
    assert len({(a["conversation"], a["annotator"]) for a in annotations}) == len(annotations)
    per_conversation = Counter(a["conversation"] for a in annotations)
    assert 0.3 <= len(per_conversation) / len(conversations) <= 0.5
    assert set(per_conversation.values()) <= {2, 3} and 3 in per_conversation.values()
    assert {a["annotator"] for a in annotations} == {f"demo-clinician-{n}" for n in (1, 2, 3)}
    for annotation in annotations:
        conversation = conversations[annotation["conversation"]]
        assert set(annotation["scores"]) == set(DIMENSIONS)
        assert all(type(s) is int and 1 <= s <= 5 for s in annotation["scores"].values())
        assert annotation["rationale"]
        for flag in annotation["flags"]:
            assert conversation["turns"][flag["turn"] - 1]["role"] == "assistant"  # 1-based turn numbers
            assert flag["kind"] and flag["note"]
        for dimension in DIMENSIONS:  # drawn around the hidden quality
            assert abs(annotation["scores"][dimension] - conversation["demo_quality"][dimension]) < 3


def test_bundle_stays_small(bundle_dir):
    size = sum(p.stat().st_size for p in bundle_dir.rglob("*") if p.is_file())
    assert size < 15_000_000


def test_a_demo_patient_who_states_their_age_states_the_one_their_profile_gives():
    cases = {case["id"]: case for case in demo.build_cases(seed=7)}
    stated = 0
    for conversation in demo.build_conversations(seed=7):
        opening = conversation["turns"][0]["content"]
        match = re.match(r"I'm ([0-9]+)(?! weeks)\b", opening)
        if match is None:
            continue
        stated += 1
        _fmt, summary = summarise_profile(cases[conversation["case"]]["profile"], today=date(2099, 12, 31))
        assert int(match.group(1)) == summary["age"], f"{conversation['id']}: says {match.group(1)}"
    assert stated >= 7 * 3, "seven cases state an age, in every conversation about them"


def test_the_demo_profiles_show_lab_units_as_people_read_them_and_keep_the_ucum_code():
    profiles = [case["profile"] for case in demo.build_cases(seed=7) if case["profile"].get("resourceType")]
    quantities = [
        entry["resource"]["valueQuantity"]
        for profile in profiles
        for entry in profile["entry"]
        if "valueQuantity" in entry["resource"]
    ]
    counts = [quantity for quantity in quantities if quantity.get("code") == "10*9/L"]
    assert counts and all(quantity["unit"] == "×10⁹/L" for quantity in counts)
    shown = [row["value"] for profile in profiles for row in summarise_profile(profile)[1]["observations"]]
    assert any("×10⁹/L" in line for line in shown) and not any("10*9" in line for line in shown)
