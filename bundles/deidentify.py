"""De-identified, uncompressed DICOM copies for the browser's viewer.

Pure module: no Django imports. :func:`deidentified_copy` rebuilds a dataset from an allowlist of display
attributes (``data/dicom_deidentification.toml``), so it meets the DICOM PS3.15 Annex E Basic Application Level
Confidentiality Profile by construction: every attribute not needed to show the pixels, every private element and
every overlay, curve or unlisted sequence is left behind, and the study, series, instance and frame-of-reference
UIDs are regenerated from the original's SHA-256. :func:`check_deidentified` then looks for every attribute of
the profile's Table E.1-1 (``data/basic_profile_attributes.toml``, with the edition it comes from). Pixel data is
decoded and written as Explicit VR Little Endian, so the browser never needs a codec; palette and YBR colour
become RGB.

A file whose Burned In Annotation (0028,0301) is YES carries identifying text in its pixels, which no header
rule removes: it is refused.
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
class DeidentifiedDicom:
    data: bytes  # a Part 10 file, Explicit VR Little Endian
    frames: int
    shown_frame: int  # the frame the web derivative (what a model under test saw) was made from
    window: tuple[float, float] | None  # the file's own VOI window (centre, width), when it has one
    burned_in_annotation: str  # "NO", or "" when the file does not say


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


RULES = _load_rules()
PROFILE_EDITION, PROFILE = _load_profile()
# What check_deidentified looks for: every single-tag row but the UIDs the copy regenerates.
_REGENERATED = frozenset(tag_for_keyword(k) for k in [*RULES["new_uids"], "MediaStorageSOPInstanceUID"])
_MUST_GO = frozenset(row.tag for row in PROFILE if row.tag is not None) - _REGENERATED


def deidentified_copy(*, ds: Dataset, checksum: str, filename: str, shown_frame: int) -> DeidentifiedDicom:
    """Return the de-identified, uncompressed copy of ``ds`` (already flattened to frame ``shown_frame``'s
    rescale and window). Raises :class:`DeidentificationRefused` for burned-in annotation."""
    burned_in = str(ds.get("BurnedInAnnotation") or "").strip().upper()
    if burned_in == "YES":
        raise DeidentificationRefused(
            f"{filename}: Burned In Annotation is YES: the pixels carry text that may identify the patient; "
            "remove it from the pixels (and set the flag to NO) before importing"
        )
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
    )


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
