"""The demo's content as typed records: one spec class per kind of entry in the data files in bundles/demo/data/.

The classes are dataclasses, with NamedTuples for the rows of a case's profile; bundles.demo.loader reads the
files into them, field by field from their type hints. This module imports nothing from Django.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import NamedTuple

DIMENSIONS = ("safety", "accuracy", "uncertainty")
CONDITIONS = ("full", "no_image", "no_ehr")
SCALE = (1, 5)
# Ages and observation dates are computed against this fixed day, never against the clock.
REFERENCE_DATE = date(2026, 1, 15)
TIERS = ("high", "mid", "low")
DATA_DIR = Path(__file__).with_name("data")  # the data files, shipped as package data

Triple = tuple[float, float, float]  # one number per dimension, in the order of DIMENSIONS


class DemoDataError(RuntimeError):
    """A source image or a data file is missing or is not what this package was written against."""


class DataFileError(DemoDataError):
    """A data file in bundles/demo/data/ cannot be read into its spec classes."""

    def __init__(self, file: Path, entry: str | None, problem: str):
        self.file, self.entry, self.problem = file, entry, problem
        super().__init__(f"{file}: {entry}: {problem}" if entry else f"{file}: {problem}")


# ------------------------------------------------------------------------------------------------------------
# The spec classes, one per kind of entry in the data files.
# ------------------------------------------------------------------------------------------------------------


class PixelReview(NamedTuple):  # the bundle's "pixel_review" of an image (docs/bundle-format.md)
    identifying: bool  # always false: the reviewer found nothing in the pixels that identifies anyone
    by: str
    on: str  # YYYY-MM-DD
    note: str  # what text the pixels carry, frame by frame where it changes


@dataclass(frozen=True)
class ImageSource:  # images.toml, one table per image key
    file: str
    package: str  # "pydicom-data", "pydicom" or "scikit-image"
    modality: str
    noun: str  # how a patient or an assistant names it in a sentence
    source: str
    license: str
    shows: str
    sha256: str
    # For a file whose header says its pixels may carry identifying text (bundles/data/burned_in_text.toml),
    # the review that lets the import take it; the import refuses the file without one.
    pixel_review: PixelReview | None = None


class CaseImage(NamedTuple):
    image: str  # a key of images.toml
    caption: str


class Condition(NamedTuple):  # a field typed "| None" may be left out of the data file
    snomed: str | None  # SNOMED CT code
    display: str
    onset: str  # YYYY[-MM]


class Medication(NamedTuple):
    drug: str
    product: str
    dosage: str


class Allergy(NamedTuple):
    substance: str
    reaction: str


class Lab(NamedTuple):
    loinc: str | None  # LOINC code
    name: str
    value: float | int | str
    unit: str  # "" for none


VITAL_SIGNS = ("hr", "sbp", "dbp", "temp", "rr", "spo2", "weight")


@dataclass(frozen=True)
class CaseSpec:  # cases.toml, one [[cases]] table per case
    title: str
    specialty: str
    diagnosis: str
    malignant: bool
    rare: bool
    images: tuple[CaseImage, ...]
    age: int
    sex: str
    conditions: tuple[Condition, ...]
    medications: tuple[Medication, ...]
    allergies: tuple[Allergy, ...]  # empty: no known allergies
    labs: tuple[Lab, ...]
    # Conversation material.
    opening: str  # the patient's first words
    described: str  # what the report says, quoted by the patient when the image is not given
    finding: str  # what the image shows, as an assistant would describe it
    reported: str  # the report's finding, in the assistant's words
    likely: str  # the right interpretation
    differential: tuple[str, str]
    wrong: str  # a plausible wrong interpretation
    wrong_next: str
    reassure: str  # false reassurance
    dismiss: str
    worry: str
    who: str
    action: str  # the right level and urgency of care, as one sentence
    red_flags: tuple[str, ...]  # clauses that follow "if"
    next_steps: str
    meanwhile: str
    ehr_note: str  # what the record adds (cites the profile)
    escalate: str  # cases.toml's top-level escalate unless the case sets its own
    vitals: dict[str, int | float] = field(default_factory=dict)  # overrides the seeded vital signs
    flat: bool = False
    patient: str = "you"  # "he" when a relative writes on the patient's behalf


# The case fields the conversation templates may quote by name.
CASE_TEXT_FIELDS = (
    "opening",
    "described",
    "finding",
    "reported",
    "likely",
    "wrong",
    "wrong_next",
    "reassure",
    "dismiss",
    "worry",
    "who",
    "action",
    "next_steps",
    "meanwhile",
    "ehr_note",
    "escalate",
)


@dataclass(frozen=True)
class ModelSpec:  # models.toml, one entry of models
    id: str
    name: str
    family: str
    provider: str
    quality: Triple  # hidden mean score per dimension

    def manifest_entry(self) -> dict:
        return {"id": self.id, "name": self.name, "family": self.family, "provider": self.provider}


@dataclass(frozen=True)
class ConditionShift:
    full: Triple
    no_image: Triple
    no_ehr: Triple


@dataclass(frozen=True)
class CaseShift:
    malignant: Triple
    rare: Triple


@dataclass(frozen=True)
class ModelsFile:  # models.toml
    models: tuple[ModelSpec, ...]
    condition_shift: ConditionShift
    case_shift: CaseShift


@dataclass(frozen=True)
class AnnotatorSpec:
    id: str
    bias: Triple
    noise: float


@dataclass(frozen=True)
class Rationale:
    safety: dict[int, str]  # score -> rationale
    accuracy: dict[int, str]
    uncertainty: dict[int, str]


@dataclass(frozen=True)
class Flag:
    kind: str
    note: str


@dataclass(frozen=True)
class Flags:
    safety: Flag
    accuracy: Flag
    uncertainty: Flag


@dataclass(frozen=True)
class AnnotationsFile:  # annotations.toml
    annotated_share: float
    annotators: tuple[AnnotatorSpec, ...]
    rationale: Rationale
    flags: Flags


@dataclass(frozen=True)
class Terminology:  # terminology.toml
    loinc: dict[str, str]  # LOINC code -> display
    ucum: dict[str, str]  # unit as written in cases.toml -> UCUM code


@dataclass(frozen=True)
class Tiered:
    """One text per quality tier."""

    high: str
    mid: str
    low: str

    def __getitem__(self, tier: str) -> str:
        return getattr(self, tier)


@dataclass(frozen=True)
class Pronouns:
    subject: str
    possessive: str
    object: str
    take: str  # the verbs, agreeing with the subject
    be: str
    have: str


@dataclass(frozen=True)
class Opening:
    image: str
    no_image: str


@dataclass(frozen=True)
class Questions:
    safety: tuple[str, ...]
    next_steps: tuple[str, ...]
    meanwhile: tuple[str, ...]


@dataclass(frozen=True)
class Findings:
    image: Tiered
    no_image: Tiered


@dataclass(frozen=True)
class Limits:
    no_image: str
    images: str
    image: str
    no_ehr: str


@dataclass(frozen=True)
class Readings:  # per accuracy tier, then Tiered per uncertainty tier
    high: Tiered
    mid: Tiered
    low: Tiered


@dataclass(frozen=True)
class FirstTurn:
    findings: Findings
    limit: Limits
    readings: Readings
    no_ehr: str


@dataclass(frozen=True)
class SafetyTurn:
    advice: Tiered
    closing: Tiered


@dataclass(frozen=True)
class RecordText:
    sentence: str
    medicines: str
    no_medicines: str
    allergies: str
    no_allergies: str


@dataclass(frozen=True)
class NextStepsTurn:
    hedge: str
    no_ehr: str
    steps: Tiered
    record: RecordText


@dataclass(frozen=True)
class ConversationText:  # conversation.toml
    images_noun: str
    style: dict[str, tuple[str, ...]]  # model family -> openers
    pronouns: dict[str, Pronouns]
    opening: Opening
    questions: Questions
    first: FirstTurn
    safety: SafetyTurn
    next_steps: NextStepsTurn
    meanwhile: Tiered


# What a conversation template may name besides CASE_TEXT_FIELDS (see conversation.toml).
PLACEHOLDERS = (
    frozenset(CASE_TEXT_FIELDS)
    | {f.name for f in dataclasses.fields(Pronouns)}
    | {
        "noun",
        "limit",
        "alternative",
        "other",
        "red_flags",
        "first_flag",
        "second_flag",
        "escalate_lower",
        "drugs",
        "substances",
        "medicines",
        "allergies",
    }
)


@dataclass(frozen=True)
class DemoData:
    images: dict[str, ImageSource]
    cases: tuple[CaseSpec, ...]
    models: ModelsFile
    annotations: AnnotationsFile
    text: ConversationText
    terminology: Terminology
    notice: str  # NOTICE.txt, copied into the bundle as it is
