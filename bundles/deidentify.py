"""De-identified, uncompressed DICOM copies for the browser's viewer.

Pure module: no Django imports. :func:`deidentified_copy` rebuilds a dataset from an allowlist of display
attributes (``data/dicom_deidentification.toml``), so it meets the DICOM PS3.15 Annex E Basic Application Level
Confidentiality Profile by construction: every attribute not needed to show the pixels, every private element and
every overlay, curve or unlisted sequence is left behind, and the study, series, instance and frame-of-reference
UIDs are regenerated from the original's SHA-256. :func:`check_deidentified` then looks for every attribute of
the profile's Table E.1-1 (``data/basic_profile_attributes.toml``, with the edition it comes from). Pixel data is
decoded and written as Explicit VR Little Endian, so the browser never needs a codec; palette and YBR colour
become RGB.

No header rule takes text out of pixels. A file whose Burned In Annotation (0028,0301) is YES is refused; so is
one whose header says it is likely to carry identifying text or features anyway (ultrasound, secondary capture,
screen grabs...: the rules in ``data/burned_in_text.toml``, :func:`burned_in_risk`), unless the caller says that
someone looked at its pixels (``pixels_reviewed``).
"""

from __future__ import annotations

import io
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import apply_color_lut
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

RULES_FILE = Path(__file__).parent / "data" / "dicom_deidentification.toml"
PROFILE_FILE = Path(__file__).parent / "data" / "basic_profile_attributes.toml"
BURNED_IN_FILE = Path(__file__).parent / "data" / "burned_in_text.toml"
METHOD = "PS3.15 E.1 Basic Application Level Confidentiality Profile"
# PS3.16 CID 7050 De-identification Method: "Basic Application Confidentiality Profile".
METHOD_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")


class DeidentificationRefused(ValueError):
    """The file cannot be made safe for a browser; the message says why."""


@dataclass(frozen=True)
class ProfileAttribute:
    """One row of PS3.15 Table E.1-1. ``tag`` is None for the rows that name a range (curves, overlays, private)."""

    tag: int | None
    keyword: str
    vr: str
    action: str  # the Basic Profile's action: X, Z, D, U, or a choice such as "X/Z/D"
    name: str

    @property
    def new_uid(self) -> bool:
        return self.action == "U"


@dataclass(frozen=True)
class BurnedInRule:
    name: str
    why: str
    any_of: dict[str, frozenset[str]]
    all_of: dict[str, frozenset[str]]
    present: tuple[str, ...]
    unless: dict[str, frozenset[str]]


@dataclass(frozen=True)
class DeidentifiedDicom:
    data: bytes  # a Part 10 file, Explicit VR Little Endian
    frames: int
    shown_frame: int  # the frame the web derivative (what a model under test saw) was made from
    window: tuple[float, float] | None  # the file's own VOI window (centre, width), when it has one
    burned_in_annotation: str  # "NO", or "" when the file does not say
    burned_in_risk: tuple[str, ...] = ()  # the header rules the file matched (its pixels were reviewed)


def _load_rules() -> dict:
    with RULES_FILE.open("rb") as handle:
        rules = tomllib.load(handle)
    unknown = [
        keyword for keyword in [*rules["keep"], *rules["new_uids"]] if keyword not in pydicom.datadict.keyword_dict
    ]
    if unknown:
        raise ValueError(f"{RULES_FILE}: unknown DICOM keywords {unknown}")
    return rules


def _load_profile() -> tuple[str, tuple[ProfileAttribute, ...]]:
    """The edition and rows of Table E.1-1; a row's keyword and VR must agree with pydicom's dictionary when the
    dictionary knows its tag (an attribute newer than the dictionary is checked by its tag alone)."""
    with PROFILE_FILE.open("rb") as handle:
        table = tomllib.load(handle)
    rows, problems = [], []
    for row in table["attributes"]:
        text = row["tag"]
        single = len(text) == 11 and all(c in "0123456789ABCDEF" for c in text[1:5] + text[6:10])
        tag = int(text[1:5] + text[6:10], 16) if single else None
        if tag is not None and pydicom.datadict.dictionary_has_tag(tag):
            if (row["keyword"], row["vr"]) != (keyword_for_tag(tag), dictionary_VR(tag)):
                problems.append(f"{text} is {keyword_for_tag(tag)} ({dictionary_VR(tag)}) in PS3.6")
        elif tag is not None and not row["vr"]:
            problems.append(f"{text} needs its VR")
        rows.append(ProfileAttribute(tag, row["keyword"], row["vr"], row["action"], row["name"]))
    if problems:
        raise ValueError(f"{PROFILE_FILE}: {'; '.join(problems)}")
    return table["edition"], tuple(rows)


def _load_burned_in_rules() -> tuple[BurnedInRule, ...]:
    with BURNED_IN_FILE.open("rb") as handle:
        table = tomllib.load(handle)

    def values(mapping: dict) -> dict[str, frozenset[str]]:
        return {keyword: frozenset(_normal(v) for v in listed) for keyword, listed in mapping.items()}

    rules = tuple(
        BurnedInRule(
            name=rule["name"],
            why=rule["why"],
            any_of=values(rule.get("any_of", {})),
            all_of=values(rule.get("all_of", {})),
            present=tuple(rule.get("present", ())),
            unless=values(rule.get("unless", {})),
        )
        for rule in table["rule"]
    )
    named = [k for r in rules for k in (*r.any_of, *r.all_of, *r.present, *r.unless)]
    unknown = sorted({k for k in named if k not in pydicom.datadict.keyword_dict})
    if unknown:
        raise ValueError(f"{BURNED_IN_FILE}: unknown DICOM keywords {unknown}")
    return rules


def _normal(value: object) -> str:
    return str(value).strip().upper()


RULES = _load_rules()
PROFILE_EDITION, PROFILE = _load_profile()
BURNED_IN_RULES = _load_burned_in_rules()
# What check_deidentified looks for: every single-tag row but the UIDs the copy regenerates.
_REGENERATED = frozenset(tag_for_keyword(k) for k in [*RULES["new_uids"], "MediaStorageSOPInstanceUID"])
_MUST_GO = frozenset(row.tag for row in PROFILE if row.tag is not None) - _REGENERATED


def burned_in_risk(ds: Dataset) -> tuple[str, ...]:
    """The header rules (``data/burned_in_text.toml``) that say the pixels of ``ds`` may identify the patient,
    each as "name: why"; empty when none applies."""
    return tuple(f"{rule.name}: {rule.why}" for rule in _matching_rules(ds))


def _matching_rules(ds: Dataset) -> list[BurnedInRule]:
    found = []
    for rule in BURNED_IN_RULES:
        if rule.unless and all(_values(ds, k) & allowed for k, allowed in rule.unless.items()):
            continue
        if (
            (rule.any_of or rule.all_of or rule.present)
            and all(_values(ds, k) & listed for k, listed in rule.any_of.items())
            and all(listed <= _values(ds, k) for k, listed in rule.all_of.items())
            and all(_values(ds, k) for k in rule.present)
        ):
            found.append(rule)
    return found


def _values(ds: Dataset, keyword: str) -> set[str]:
    value = ds.get(keyword)
    if value is None or value == "":
        return set()
    items = value if isinstance(value, pydicom.multival.MultiValue | list | tuple) else [value]
    return {_normal(item) for item in items if str(item).strip()}


def deidentified_copy(
    *, ds: Dataset, checksum: str, filename: str, shown_frame: int, pixels_reviewed: bool = False
) -> DeidentifiedDicom:
    """Return the de-identified, uncompressed copy of ``ds`` (already flattened to frame ``shown_frame``'s
    rescale and window).

    Raises :class:`DeidentificationRefused` for Burned In Annotation YES, and for a file whose header says its
    pixels may identify the patient (:func:`burned_in_risk`) unless ``pixels_reviewed``: someone looked at every
    frame and found nothing identifying."""
    burned_in = _normal(ds.get("BurnedInAnnotation") or "")
    if burned_in == "YES":
        raise DeidentificationRefused(
            f"{filename}: Burned In Annotation (0028,0301) is YES: the file says its pixels carry text that "
            "identifies the patient; remove the text from the pixels (and set the flag to NO) before importing"
        )
    risk = burned_in_risk(ds)
    if risk and not pixels_reviewed:
        raise DeidentificationRefused(_risk_message(ds, filename))
    frames = max(int(ds.get("NumberOfFrames") or 1), 1)
    out = Dataset()
    for keyword in RULES["keep"]:
        if keyword in ds and keyword != "PixelData":
            out[keyword] = ds[keyword]
    for keyword in RULES["new_uids"]:
        setattr(out, keyword, generate_uid(entropy_srcs=[checksum, keyword]))
    out.SOPClassUID = ds.get("SOPClassUID") or pydicom.uid.SecondaryCaptureImageStorage
    out.PatientName = ""
    out.PatientID = ""
    out.PatientIdentityRemoved = "YES"
    out.DeidentificationMethod = METHOD
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = METHOD_CODE
    out.DeidentificationMethodCodeSequence = [code]
    if _stored_as_is(ds):  # uncompressed greyscale little endian: the stored bytes are already what we write
        out.PixelData = ds.PixelData
        out["PixelData"].VR = "OB" if int(ds.BitsAllocated) == 8 else "OW"
        out.pop("PlanarConfiguration", None)
        if frames > 1:
            out.NumberOfFrames = frames
    else:
        pixels, photometric = _display_pixels(ds)
        _set_pixels(out, pixels, photometric, frames)
        del pixels

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = out.SOPClassUID
    meta.MediaStorageSOPInstanceUID = out.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    out.file_meta = meta
    check_deidentified(out)
    buffer = io.BytesIO()
    out.save_as(buffer, enforce_file_format=True)
    return DeidentifiedDicom(
        data=buffer.getvalue(),
        frames=frames,
        shown_frame=shown_frame,
        window=_window(out),
        burned_in_annotation=burned_in,
        burned_in_risk=risk,
    )


def _risk_message(ds: Dataset, filename: str) -> str:
    rules = _matching_rules(ds)
    flags = sorted({k for rule in rules for k in rule.unless}, key=tag_for_keyword)
    said = ", ".join(f"{_attribute(k)} is {_normal(ds.get(k) or '') or 'absent'}" for k in flags)
    remedies = [
        'record the review in this image entry as "pixel_review": {"identifying": false, "by": "<who looked>", '
        '"on": "YYYY-MM-DD", "note": "<what the pixels show>"}',
        "supply a copy with the text removed from the pixels",
    ]
    if all(rule.unless for rule in rules):  # the file can say so itself
        remedies.insert(1, f"set {' and '.join(_attribute(k) for k in flags)} to NO in the file after that review")
    return (
        f"{filename}: its pixels may carry text or features that identify the patient"
        + (f", and nothing says they were checked ({said})" if said else "")
        + f"; header rules matched: {'; '.join(f'{names} ({why})' for why, names in _by_reason(rules).items())}. "
        + f"Look at every frame, then either {', or '.join(remedies)}"
    )


def _by_reason(rules: list[BurnedInRule]) -> dict[str, str]:
    """The matched rules' names, joined when they give the same reason."""
    names: dict[str, list[str]] = {}
    for rule in rules:
        names.setdefault(rule.why, []).append(rule.name)
    return {why: ", ".join(listed) for why, listed in names.items()}


def _attribute(keyword: str) -> str:
    tag = tag_for_keyword(keyword)
    return f"{pydicom.datadict.dictionary_description(tag)} ({tag >> 16:04X},{tag & 0xFFFF:04X})"


def check_deidentified(ds: Dataset) -> None:
    """Raise when ``ds`` (its file meta and every nested item too) still carries an attribute of PS3.15 Table
    E.1-1 other than the regenerated UIDs and the emptied Patient's Name and ID: a private element, a curve or
    overlay group, or any listed tag with a value."""
    meta = getattr(ds, "file_meta", None) or []
    left = [
        str(element.tag)
        for element in [*meta, *ds.iterall()]
        if element.tag.is_private
        or element.tag.group & 0xFF01 in (0x5000, 0x6000)
        or (element.tag in _MUST_GO and not element.is_empty)
    ]
    if left:
        raise AssertionError(f"de-identification left {left}")


def _stored_as_is(ds: Dataset) -> bool:
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    photometric = str(ds.get("PhotometricInterpretation", "")).strip()
    return (
        syntax in (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
        and photometric in ("MONOCHROME1", "MONOCHROME2")
        and int(ds.get("BitsAllocated") or 0) in (8, 16)
        and int(ds.get("SamplesPerPixel") or 1) == 1
    )


def _display_pixels(ds: Dataset) -> tuple[np.ndarray, str]:
    """All frames as stored values (greyscale) or 8-bit RGB, and the photometric interpretation they now have."""
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip()
    pixels = ds.pixel_array  # every frame; pydicom converts YBR colour to RGB
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(pixels, ds)
        if rgb.dtype != np.uint8:
            rgb = (rgb.astype(np.float64) * (255.0 / np.iinfo(rgb.dtype).max)).round().astype(np.uint8)
        return rgb, "RGB"
    if pixels.ndim == (4 if int(ds.get("NumberOfFrames") or 1) > 1 else 3):
        if pixels.dtype != np.uint8:
            bits = int(ds.get("BitsStored") or 8)
            pixels = (pixels.astype(np.float64) * (255.0 / (2**bits - 1))).round().clip(0, 255).astype(np.uint8)
        return pixels, "RGB"
    return pixels, photometric if photometric.startswith("MONOCHROME") else "MONOCHROME2"


def _set_pixels(out: Dataset, pixels: np.ndarray, photometric: str, frames: int) -> None:
    colour = photometric == "RGB"
    out.PhotometricInterpretation = photometric
    out.SamplesPerPixel = 3 if colour else 1
    if colour:
        out.PlanarConfiguration = 0
        out.BitsAllocated, out.BitsStored, out.HighBit, out.PixelRepresentation = 8, 8, 7, 0
        out.pop("ModalityLUTSequence", None)
        out.pop("VOILUTSequence", None)
        for keyword in ("WindowCenter", "WindowWidth", "WindowCenterWidthExplanation", "RescaleIntercept"):
            out.pop(keyword, None)
        out.pop("RescaleSlope", None)
    else:
        out.pop("PlanarConfiguration", None)
        out.BitsAllocated = pixels.dtype.itemsize * 8
    if frames > 1:
        out.NumberOfFrames = frames
    else:
        out.pop("NumberOfFrames", None)
    out.Rows, out.Columns = int(pixels.shape[-3 if colour else -2]), int(pixels.shape[-2 if colour else -1])
    little = pixels.astype(pixels.dtype.newbyteorder("<"), copy=False)
    data = np.ascontiguousarray(little).tobytes()
    out.PixelData = data + (b"\x00" if len(data) % 2 else b"")
    out["PixelData"].VR = "OB" if pixels.dtype.itemsize == 1 else "OW"


def _window(ds: Dataset) -> tuple[float, float] | None:
    if "WindowCenter" not in ds or "WindowWidth" not in ds:
        return None
    centre, width = ds.WindowCenter, ds.WindowWidth
    centre = centre[0] if isinstance(centre, pydicom.multival.MultiValue) else centre
    width = width[0] if isinstance(width, pydicom.multival.MultiValue) else width
    try:
        return float(centre), float(width)
    except (TypeError, ValueError):
        return None
