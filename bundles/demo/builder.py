"""Build a deterministic demo benchmark bundle (format version 1, see docs/demo-data.md).

The images are real public test images that ship inside installed packages (pydicom-data, pydicom and
scikit-image); everything else (patient profiles, conversations, clinician annotations) is synthetic and
generated from templates with ``random.Random`` seeded from ``seed``. No network, no LLM, no clock: two builds
with the same seed and the same installed packages are byte-identical.

The content lives in data files under bundles/demo/data/: the spec classes are in bundles.demo.specs and
bundles.demo.loader reads and validates the files. This module assembles the bundle; bundles.demo.fhir writes
the patient profiles and bundles.demo.conversations the conversations.

Usage::

    python -m bundles.demo.builder OUT_DIR [--seed 2026]

This module imports nothing from Django.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import sys
from operator import attrgetter
from pathlib import Path

from bundles.demo.conversations import FLAG_TURNS, build_conversation, case_id, clip, rng
from bundles.demo.fhir import fhir_profile, flat_profile
from bundles.demo.loader import ANNOTATORS, CASES, DATA, IMAGES, MODELS, NOTICE
from bundles.demo.specs import CONDITIONS, DIMENSIONS, REFERENCE_DATE, SCALE, DemoDataError, ImageSource

__all__ = [
    "CASES",
    "CONDITIONS",
    "DIMENSIONS",
    "FORMAT",
    "IMAGES",
    "MODELS",
    "REFERENCE_DATE",
    "SCALE",
    "VERSION",
    "DemoDataError",
    "build_annotations",
    "build_cases",
    "build_conversations",
    "build_demo_bundle",
    "locate_image",
    "main",
    "manifest",
    "read_image_bytes",
]

FORMAT = "imcbench-bundle"
VERSION = 1


def locate_image(source: ImageSource) -> Path:
    """The path of ``source`` inside its installed package; raises DemoDataError when it is not installed."""
    if source.package == "scikit-image":
        spec = importlib.util.find_spec("skimage")  # finds the package without importing it
        if spec is None or not spec.submodule_search_locations:
            raise DemoDataError("scikit-image is not installed (pip install 'imcbench-studio[demo]')")
        path = Path(next(iter(spec.submodule_search_locations))) / "data" / source.file
    else:
        from pydicom.data import get_testdata_file

        found = get_testdata_file(source.file, download=False)
        if not found:
            raise DemoDataError(
                f"{source.file} not found locally; install pydicom-data (pip install 'imcbench-studio[demo]')"
            )
        path = Path(str(found))
    if not path.is_file():
        raise DemoDataError(f"{source.file} not found at {path}")
    return path


def read_image_bytes(source: ImageSource) -> bytes:
    """The original bytes of ``source``, checked against the pinned SHA-256."""
    data = locate_image(source).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != source.sha256:
        raise DemoDataError(
            f"{source.file} from {source.package} has SHA-256 {digest}, expected {source.sha256}: the "
            "package changed this file; check its licence and content again before updating "
            "bundles/demo/data/images.toml"
        )
    return data


def _annotation(seed: int, conversation: dict, annotator) -> dict:
    """One simulated clinician's integer scores, rationale and flags for one conversation."""
    text = DATA.annotations
    draw = rng(seed, "score", conversation["id"], annotator.id)
    scores = {}
    for index, dimension in enumerate(DIMENSIONS):
        value = conversation["demo_quality"][dimension] + annotator.bias[index] + draw.gauss(0, annotator.noise)
        scores[dimension] = int(clip(round(value), SCALE[0], SCALE[1]))
    flags = []
    for dimension in DIMENSIONS:
        if scores[dimension] <= 2:
            flag = getattr(text.flags, dimension)
            flags.append({"turn": FLAG_TURNS[dimension], "kind": flag.kind, "note": flag.note})
    flags.sort(key=lambda flag: (flag["turn"], flag["kind"]))
    rationale = " ".join(
        f"{dimension.capitalize()} {scores[dimension]}: {getattr(text.rationale, dimension)[scores[dimension]]}."
        for dimension in DIMENSIONS
    )
    return {
        "conversation": conversation["id"],
        "annotator": annotator.id,
        "scores": scores,
        "rationale": rationale,
        "flags": flags,
        "synthetic": True,
    }


def build_annotations(seed: int, conversations: list[dict]) -> list[dict]:
    """Integer scores drawn around each conversation's demo_quality, with per-clinician bias and noise."""
    annotations = []
    for conversation in conversations:
        pick = rng(seed, "annotate", conversation["id"])
        if pick.random() >= DATA.annotations.annotated_share:
            continue
        chosen = list(ANNOTATORS) if pick.random() < 0.3 else pick.sample(list(ANNOTATORS), 2)
        annotations.extend(
            _annotation(seed, conversation, annotator) for annotator in sorted(chosen, key=attrgetter("id"))
        )
    return annotations


def _image_entry(key: str, caption: str) -> dict:
    source = IMAGES[key]
    return {
        "file": f"images/{source.file}",
        "modality": source.modality,
        "source": source.source,
        "license": source.license,
        "caption": caption,
        "package": source.package,
        "sha256": source.sha256,
        **({"pixel_review": source.pixel_review._asdict()} if source.pixel_review else {}),
    }


def build_cases(seed: int) -> list[dict]:
    return [
        {
            "id": case_id(number),
            "title": spec.title,
            "specialty": spec.specialty,
            "diagnosis": spec.diagnosis,
            "tags": {"malignant": spec.malignant, "rare": spec.rare},
            "images": [_image_entry(key, caption) for key, caption in spec.images],
            "profile": flat_profile(spec) if spec.flat else fhir_profile(number, spec, seed),
            "synthetic": True,
        }
        for number, spec in enumerate(CASES, start=1)
    ]


def build_conversations(seed: int) -> list[dict]:
    return [
        build_conversation(seed, number, spec, model, condition)
        for number, spec in enumerate(CASES, start=1)
        for model in MODELS
        for condition in CONDITIONS
    ]


def manifest(seed: int) -> dict:
    return {
        "format": FORMAT,
        "version": VERSION,
        "name": "IMCBench demo",
        "description": (
            "Synthetic demo content, not real model output: the patient profiles, conversations and "
            "clinician annotations were generated from templates by bundles.demo.builder "
            f"(seed {seed}); the models are simulated and the clinicians are simulated. The images are real "
            "public test images shipped with pydicom-data, pydicom and scikit-image; each image entry names "
            "its source and licence, and NOTICE.txt carries the licence texts."
        ),
        "dimensions": list(DIMENSIONS),
        "scale": list(SCALE),
        "models": [model.manifest_entry() for model in MODELS],
        "synthetic": True,
        "seed": seed,
    }


def _dumps(record: dict) -> str:
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _write_text(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def _write_jsonl(path: Path, records: list[dict]) -> None:
    _write_text(path, "".join(_dumps(record) + "\n" for record in records))


def _is_previous_bundle(path: Path) -> bool:
    try:
        return json.loads((path / "manifest.json").read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _write_bundle(work: Path, seed: int) -> None:
    (work / "images").mkdir()
    for key in sorted({key for spec in CASES for key, _caption in spec.images}):
        (work / "images" / IMAGES[key].file).write_bytes(read_image_bytes(IMAGES[key]))
    _write_text(work / "manifest.json", json.dumps(manifest(seed), sort_keys=True, ensure_ascii=False, indent=2) + "\n")
    _write_jsonl(work / "cases.jsonl", build_cases(seed))
    conversations = build_conversations(seed)
    _write_jsonl(work / "conversations.jsonl", conversations)
    _write_jsonl(work / "annotations.jsonl", build_annotations(seed, conversations))
    _write_text(work / "NOTICE.txt", NOTICE)


def build_demo_bundle(*, out_dir: Path, seed: int = 2026) -> Path:
    """Write the demo bundle to ``out_dir`` (replacing an earlier bundle there) and return ``out_dir``.

    The directory is assembled next to ``out_dir`` and moved into place at the end, so a failed build leaves
    nothing half-written. An existing ``out_dir`` that is neither empty nor an earlier bundle is refused.
    """
    out_dir = Path(out_dir)
    replaceable = out_dir.is_dir() and (not any(out_dir.iterdir()) or _is_previous_bundle(out_dir))
    if out_dir.exists() and not replaceable:
        raise FileExistsError(f"{out_dir} exists and is not an earlier IMCBench bundle; choose another one")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = out_dir.parent / f".{out_dir.name}.building-{os.getpid()}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    try:
        _write_bundle(work, seed)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        work.rename(out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bundles.demo.builder",
        description="Write the deterministic IMCBench demo bundle (synthetic conversations, real public images).",
    )
    parser.add_argument("out_dir", type=Path, help="directory to write (an earlier bundle there is replaced)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed (default: 2026)")
    args = parser.parse_args(argv)
    try:
        path = build_demo_bundle(out_dir=args.out_dir, seed=args.seed)
    except (DemoDataError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    files = sorted(p for p in path.rglob("*") if p.is_file())
    size = sum(p.stat().st_size for p in files)
    print(f"wrote {path} ({len(files)} files, {size / 1_000_000:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
