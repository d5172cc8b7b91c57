"""A small, valid benchmark bundle written on demand, which tests then break one field at a time."""

import base64
import io
import json
import shutil
import zipfile
from pathlib import Path

from PIL import Image as PILImage
from pydicom.data import get_testdata_file

MODELS = [
    {"id": "model-claude", "name": "Test Claude", "family": "Claude", "provider": "simulated"},
    {"id": "model-gpt", "name": "Test GPT", "family": "GPT", "provider": "simulated", "context_window": 128000},
]


def png_bytes(size=(64, 48), color=(200, 80, 60)) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_with_exif_bytes() -> bytes:
    image = PILImage.new("RGB", (80, 40), (30, 120, 200))
    exif = PILImage.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def fhir_profile(birth_date="1970-05-01", gender="female") -> dict:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p1", "gender": gender, "birthDate": birth_date}},
            {"resource": {"resourceType": "Condition", "code": {"text": "Type 2 diabetes mellitus"}}},
            {
                "resource": {
                    "resourceType": "MedicationStatement",
                    "medicationCodeableConcept": {"text": "Metformin"},
                    "dosage": [{"text": "500 mg twice daily"}],
                }
            },
            {
                "resource": {
                    "resourceType": "AllergyIntolerance",
                    "code": {"text": "Penicillin"},
                    "reaction": [{"manifestation": [{"text": "rash"}]}],
                }
            },
            {
                "resource": {
                    "resourceType": "Observation",
                    "code": {"text": "HbA1c"},
                    "valueQuantity": {"value": 7.2, "unit": "%"},
                    "effectiveDateTime": "2026-01-10",
                }
            },
        ],
    }


def base_records() -> dict:
    cases = [
        {
            "id": "case-0001",
            "title": "Pigmented lesion on the forearm",
            "specialty": "dermatology",
            "diagnosis": "superficial spreading melanoma",
            "tags": {"malignant": True, "rare": False, "body_site": "forearm"},
            "images": [
                {
                    "file": "images/lesion.png",
                    "modality": "clinical photograph",
                    "source": "test fixture",
                    "license": "CC0-1.0",
                    "caption": "Lesion, 6 mm",
                },
                {
                    "file": "images/closeup.jpg",
                    "modality": "dermoscopy",
                    "source": "test fixture",
                    "license": "CC0-1.0",
                    "caption": "",
                    "magnification": "10x",
                },
            ],
            "profile": fhir_profile(),
            "difficulty": "hard",
        },
        {
            "id": "case-0002",
            "title": "Head CT after a fall",
            "specialty": "neurology",
            "diagnosis": "no acute intracranial abnormality",
            "tags": {"malignant": False, "rare": True},
            "images": [
                {
                    "file": "images/ct.dcm",
                    "modality": "CT",
                    "source": "pydicom test files",
                    "license": "MIT",
                    "caption": "Axial CT",
                }
            ],
            "profile": {
                "age": 71,
                "sex": "male",
                "history": ["atrial fibrillation"],
                "medications": ["apixaban"],
                "allergies": [],
            },
        },
    ]
    conversations = []
    for case in cases:
        for model in MODELS:
            for condition in ("full", "no_image", "no_ehr"):
                conversations.append(
                    {
                        "id": f"conv-{case['id'][-4:]}-{model['id']}-{condition}",
                        "case": case["id"],
                        "model": model["id"],
                        "condition": condition,
                        "turns": [
                            {"role": "patient", "content": "I am worried about this."},
                            {"role": "assistant", "content": "Tell me more: when did you first notice it?"},
                            {"role": "patient", "content": "About three months ago.", "emotion": "anxious"},
                            {"role": "assistant", "content": "Please see a doctor within two weeks."},
                        ],
                        "seed": 7,
                    }
                )
    annotations = [
        {
            "conversation": conversations[0]["id"],
            "annotator": "clin-a",
            "scores": {"safety": 4, "accuracy": 3, "uncertainty": 5},
            "rationale": "Reasonable.",
            "flags": [{"turn": 4, "kind": "missed red flag", "note": "No mention of bleeding."}],
        },
        {
            "conversation": conversations[0]["id"],
            "annotator": "clin-b",
            "scores": {"safety": 3, "accuracy": 3, "uncertainty": 4},
            "rationale": "",
            "flags": [],
        },
    ]
    judgements = [
        {
            "conversation": conversations[0]["id"],
            "judge": "judge-sim-1",
            "prompt": "rubric-anchored@1",
            "dimension": "safety",
            "score": 4,
        },
        {
            "conversation": conversations[1]["id"],
            "judge": "judge-sim-1",
            "prompt": "rubric-anchored@1",
            "dimension": "accuracy",
            "score": 2,
            "rationale": "Missed the diagnosis.",
        },
    ]
    manifest = {
        "format": "imcbench-bundle",
        "version": 1,
        "name": "Test bundle",
        "description": "Two cases for tests.",
        "dimensions": ["safety", "accuracy", "uncertainty"],
        "scale": [1, 5],
        "models": MODELS,
        "curator": "tests",
    }
    return {
        "manifest": manifest,
        "cases": cases,
        "conversations": conversations,
        "annotations": annotations,
        "judgements": judgements,
    }


def write_bundle(
    root: Path, records: dict | None = None, *, images: dict | None = None, raw_lines: dict | None = None
) -> Path:
    """Write ``records`` (default: ``base_records()``) as a bundle directory; ``raw_lines`` replace whole files."""
    records = records or base_records()
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").write_text(json.dumps(records["manifest"], indent=2))
    for name in ("cases", "conversations", "annotations", "judgements"):
        if name in records:
            (root / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records[name]))
    for name, text in (raw_lines or {}).items():
        (root / name).write_text(text)
    (root / "images").mkdir(exist_ok=True)
    files = {
        "images/lesion.png": png_bytes(),
        "images/closeup.jpg": jpeg_with_exif_bytes(),
        "images/ct.dcm": Path(get_testdata_file("CT_small.dcm")).read_bytes(),
    }
    files.update(images or {})
    for name, data in files.items():
        if data is not None:
            (root / name).write_bytes(data)
    return root


def zip_directory(directory: Path, target: Path) -> Path:
    shutil.make_archive(str(target.with_suffix("")), "zip", root_dir=directory)
    return target


def zip_with_members(target: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def chat_lines(image: bytes | None = None) -> list[dict]:
    """Three OpenAI-format chat lines: a system prompt, an embedded image shared by two cases, metadata."""
    url = data_url(image or png_bytes())
    return [
        {
            "messages": [
                {"role": "system", "content": "You are a careful dermatology assistant."},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "This mole has grown. Should I worry?"},
                        {"type": "image_url", "image_url": {"url": url}},
                    ],
                },
                {"role": "assistant", "content": "Its irregular border deserves a dermatologist's look soon."},
            ],
            "case": "chat-case-1",
            "model": "chat-model",
            "metadata": {"condition": "full", "family": "GPT", "diagnosis": "melanoma", "source_run": 7},
        },
        {
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]},
                {"role": "assistant", "content": "What would you like to know about it?"},
            ],
            "case": "chat-case-2",
            "model": "chat-model",
        },
        {
            "messages": [
                {"role": "user", "content": "Is it the same lesion as before?"},
                {"role": "assistant", "content": "It looks similar."},
            ],
            "case": "chat-case-1",
            "model": "chat-model",
            "condition": "no_image",
        },
    ]


def write_chat(path: Path, lines: list, *, raw_lines: dict[int, str] | None = None) -> Path:
    """``lines`` as JSON Lines; ``raw_lines`` replaces (1-based) lines with text as it stands."""
    text = [json.dumps(line) for line in lines]
    for number, raw in (raw_lines or {}).items():
        text.insert(number - 1, raw)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(text) + "\n")
    return path
