"""bundles.deidentify: the browser's DICOM copy carries nothing of the Basic Profile, no private element, no
overlay, regenerated UIDs, and the original's pixels; burned-in annotation is refused.

Pure tests: no database. The demo's DICOM files come from pydicom and pydicom-data; the crafted file carries every
attribute the data file lists from PS3.15 Table E.1-1, each with a value found nowhere else."""

import io
import tomllib
from functools import cache
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset

from bundles.deidentify import RULES, check_deidentified
from bundles.imaging import ImageRejected, process_image

PIXEL_DATA_TAG = b"\xe0\x7f\x10\x00"  # (7FE0,0010) in Explicit VR Little Endian
DEMO_IMAGES = Path(__file__).resolve().parents[2] / "bundles" / "demo" / "data" / "images.toml"
IDENTIFYING = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "AccessionNumber",
    "InstitutionName",
    "ReferringPhysicianName",
    "OtherPatientIDs",
    "InstitutionAddress",
    "StationName",
)


def demo_dicom_files() -> list[str]:
    images = tomllib.loads(DEMO_IMAGES.read_text())
    return sorted({entry["file"] for entry in images.values() if entry["file"].endswith(".dcm")})


@cache
def original(name: str) -> bytes:
    return Path(get_testdata_file(name)).read_bytes()


def copy_of(data: bytes, name: str = "upload.dcm") -> pydicom.Dataset:
    processed = process_image(data=data, filename=name)
    return pydicom.dcmread(io.BytesIO(processed.dicom.data))


def marker(index: int) -> str:
    return f"IDX{index:03d}Q"


def value_for(keyword: str, index: int):
    """A value of the attribute's VR that appears nowhere else in the file."""
    vr = dictionary_VR(tag_for_keyword(keyword)).split(" or ")[0]
    text = marker(index)
    if vr == "SQ":
        item = Dataset()
        item.CodeMeaning = text
        return vr, [item]
    values = {
        "DA": f"1901{index % 12 + 1:02d}{index % 28 + 1:02d}",
        "TM": f"0102{index % 60:02d}",
        "DT": f"1901{index % 12 + 1:02d}{index % 28 + 1:02d}010203",
        "AS": f"{index % 100:03d}Y",
        "UI": f"1.2.826.0.1.3680043.10.999.{index}",
        "IS": str(index),
        "DS": str(index),
        "US": index,
        "SS": index,
        "UL": index,
        "SL": index,
        "FL": float(index),
        "FD": float(index),
        "AT": 0x00100010,
        "OB": text.encode() + b"\x00",
        "OW": text.encode() + b"\x00",
        "UN": text.encode() + b"\x00",
    }
    return vr, values.get(vr, text)


@cache
def crafted() -> bytes:
    """CT_small's pixels with every listed Basic Profile attribute, private elements and an overlay."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    for index, keyword in enumerate([*RULES["basic_profile"]["removed"], *RULES["basic_profile"]["new_uid"]]):
        vr, value = value_for(keyword, index)
        tag = tag_for_keyword(keyword)
        (ds.file_meta if tag >> 16 == 0x0002 else ds).add_new(tag, vr, value)
    block = ds.private_block(0x0011, "CRAFTED PRIVATE", create=True)
    block.add_new(0x01, "LO", "PRIVATEIDENTITYQ")
    ds.add_new(0x60000010, "US", 8)
    ds.add_new(0x60000022, "LO", "OVERLAYIDENTITYQ")
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


def test_the_crafted_file_carries_every_listed_attribute_before_and_none_after():
    before = pydicom.dcmread(io.BytesIO(crafted()))
    listed = [*RULES["basic_profile"]["removed"], *RULES["basic_profile"]["new_uid"]]
    assert all(keyword in before or keyword in before.file_meta for keyword in listed)
    assert len(RULES["basic_profile"]["removed"]) > 200

    after = copy_of(crafted())
    left = [keyword for keyword in RULES["basic_profile"]["removed"] if keyword in after and after[keyword].value]
    assert left == []
    assert not [element for element in after.iterall() if element.tag.is_private]
    assert not [element for element in after if element.tag.group & 0xFF00 in (0x5000, 0x6000)]
    for keyword in RULES["basic_profile"]["new_uid"]:
        for old, new in ((before, after), (before.file_meta, after.file_meta)):
            if keyword in new and keyword in old:
                assert new[keyword].value != old[keyword].value
    assert after.PatientIdentityRemoved == "YES"
    assert after.DeidentificationMethodCodeSequence[0].CodeValue == "113100"


def test_no_byte_of_the_crafted_values_survives():
    data = process_image(data=crafted(), filename="crafted.dcm").dicom.data
    assert b"IDX" not in data and b"IDENTITYQ" not in data
    originals = pydicom.dcmread(io.BytesIO(crafted()))
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"):
        assert str(originals[keyword].value).encode() not in data


@pytest.mark.parametrize("name", demo_dicom_files())
def test_the_demo_files_lose_identity_but_keep_pixels_and_frames(name):
    source = pydicom.dcmread(io.BytesIO(original(name)))
    data = process_image(data=original(name), filename=name).dicom.data
    copy = pydicom.dcmread(io.BytesIO(data))
    # A short value (PatientID '204') may turn up by chance among the pixels or in the new UIDs' digits.
    header = data.split(PIXEL_DATA_TAG)[0]
    for element in [*copy.file_meta, *copy.iterall()]:
        if element.VR == "UI" and element.value:
            header = header.replace(str(element.value).encode(), b"")
    for keyword in IDENTIFYING:
        value = str(source.get(keyword) or "").strip()
        if len(value) >= 3:
            assert value.encode() not in header, f"{keyword} {value!r} survived"
    check_deidentified(copy)
    assert copy.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert int(copy.get("NumberOfFrames") or 1) == int(source.get("NumberOfFrames") or 1)
    if source.PhotometricInterpretation.startswith("MONOCHROME"):
        assert np.array_equal(copy.pixel_array, source.pixel_array)
        assert copy.PhotometricInterpretation == source.PhotometricInterpretation
    else:
        assert copy.PhotometricInterpretation == "RGB" and copy.pixel_array.dtype == np.uint8


def test_a_multi_frame_ultrasound_keeps_every_frame_and_marks_the_one_the_model_saw():
    processed = process_image(data=original("examples_ybr_color.dcm"), filename="cine.dcm")
    assert (processed.dicom.frames, processed.dicom.shown_frame) == (30, 15)
    copy = pydicom.dcmread(io.BytesIO(processed.dicom.data))
    assert copy.pixel_array.shape == (30, 240, 320, 3)
    assert b"PLA" not in processed.dicom.data.split(PIXEL_DATA_TAG)[0]  # the patient name, before the pixels


def test_burned_in_annotation_yes_is_refused_with_the_reason():
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.BurnedInAnnotation = "YES"
    out = io.BytesIO()
    ds.save_as(out)
    with pytest.raises(ImageRejected, match=r"burned.dcm: Burned In Annotation is YES"):
        process_image(data=out.getvalue(), filename="burned.dcm")


def test_the_same_original_always_gives_the_same_copy():
    first = process_image(data=original("CT_small.dcm"), filename="a.dcm").dicom.data
    again = process_image(data=original("CT_small.dcm"), filename="b.dcm").dicom.data
    assert first == again
