"""bundles.deidentify: the browser's DICOM copy carries nothing of PS3.15 Table E.1-1 (no private element, curve
or overlay), regenerated UIDs and the original's pixels; burned-in annotation is refused, and so is a file whose
header says its pixels may carry identifying text unless they were reviewed.

Pure tests: no database. The demo's DICOM files come from pydicom and pydicom-data; the crafted file carries every
row of Table E.1-1 (bundles/data/basic_profile_attributes.toml, edition 2024b), each with a value found nowhere
else."""

import io
import tomllib
from functools import cache
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info

from bundles.deidentify import PROFILE, PROFILE_EDITION, RULES, burned_in_risk, check_deidentified
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
# What the viewer needs from the crafted file's CT_small, which must come through unchanged.
DISPLAY = (
    "SOPClassUID",
    "Modality",
    "ImageType",
    "Rows",
    "Columns",
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "PixelSpacing",
    "SliceThickness",
    "ImageOrientationPatient",
    "ImagePositionPatient",
    "RescaleIntercept",
    "RescaleSlope",
)
REGENERATED = {*RULES["new_uids"], "MediaStorageSOPInstanceUID"}
EMPTIED = {"PatientName", "PatientID"}  # Type 2 in every image IOD: present, without a value


def demo_images() -> dict:
    return tomllib.loads(DEMO_IMAGES.read_text())


def demo_dicom_files() -> list[str]:
    return sorted({entry["file"] for entry in demo_images().values() if entry["file"].endswith(".dcm")})


def reviewed_demo_files() -> set[str]:
    return {entry["file"] for entry in demo_images().values() if "pixel_review" in entry}


@cache
def original(name: str) -> bytes:
    return Path(get_testdata_file(name)).read_bytes()


def processed(data: bytes, name: str = "upload.dcm", **kwargs):
    return process_image(data=data, filename=name, **kwargs)


def copy_of(data: bytes, name: str = "upload.dcm") -> pydicom.Dataset:
    return pydicom.dcmread(io.BytesIO(processed(data, name).dicom.data))


def marker(index: int) -> str:
    return f"IDX{index:03d}Q"


def value_for(vr: str, index: int):
    """A value of ``vr`` that appears nowhere else in the file, and the bytes that would betray it (None for the
    binary numbers, found by their tag instead)."""
    text = marker(index)
    if vr == "SQ":
        item = Dataset()
        item.CodeMeaning = text
        item.PersonName = f"{text}^Nested"
        return [item], text.encode()
    values = {
        "PN": f"{text}^Patient",
        "DA": f"1{index:03d}0101",
        "TM": f"2359{index % 60:02d}.{900000 + index}",
        "DT": f"18010101235959.{900000 + index}",
        "AS": f"{index % 1000:03d}D",
        "UI": f"1.2.826.0.1.3680043.10.999.{index}",
        "IS": f"9{index:03d}7",
        "DS": f"9{index:03d}.25",
        "UR": f"http://{text}.example/",
        "OB": text.encode() + b"\x00",
        "OW": text.encode() + b"\x00",
        "UN": text.encode() + b"\x00",
    }
    if vr in ("US", "SS", "UL", "SL", "FL", "FD"):
        return (float(index) if vr in ("FL", "FD") else index), None
    value = values.get(vr, text)
    return value, value if isinstance(value, bytes) else value.encode()


@cache
def crafted() -> tuple[bytes, dict[str, bytes]]:
    """CT_small's pixels with every row of Table E.1-1, and each row's betraying bytes by its name.

    The rows that name a range get a member of it: curve (5000,xxxx) and overlay (6000,xxxx) elements, and a
    private block holding a text and a sequence."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    needles = {}
    for index, row in enumerate(PROFILE):
        if row.tag is None:
            continue
        vr = row.vr.split(" or ")[0]
        value, needle = value_for(vr, index)
        (ds.file_meta if row.tag >> 16 == 0x0002 else ds).add_new(row.tag, vr, value)
        if needle is not None:
            needles[row.name] = needle
    ds.add_new(0x50000005, "US", 1)  # Curve Data (50xx,xxxx)
    ds.add_new(0x50002500, "LO", "CURVEIDENTITYQ")
    ds.add_new(0x50003000, "OB", b"CURVEDATAIDQ")
    ds.add_new(0x60000010, "US", 8)  # Overlay Data (60xx,3000) and Overlay Comments (60xx,4000)
    ds.add_new(0x60000011, "US", 8)
    ds.add_new(0x60003000, "OB", b"OVERLAYDATAIDQ\x00\x00")
    ds.add_new(0x60004000, "LT", "OVERLAYIDENTITYQ")
    block = ds.private_block(0x0011, "CRAFTED PRIVATE", create=True)  # Private Attributes
    block.add_new(0x01, "LO", "PRIVATEIDENTITYQ")
    inner = Dataset()
    inner.PatientName = "PRIVATESEQIDENTITYQ"
    block.add_new(0x02, "SQ", [inner])
    needles.update(
        {
            "Curve Data": b"CURVEIDENTITYQ",
            "Curve Data bytes": b"CURVEDATAIDQ",
            "Overlay Data": b"OVERLAYDATAIDQ",
            "Overlay Comments": b"OVERLAYIDENTITYQ",
            "Private Attributes": b"PRIVATEIDENTITYQ",
            "Private Attributes, nested": b"PRIVATESEQIDENTITYQ",
        }
    )
    return part10_with_command_elements(ds), needles


def part10_with_command_elements(ds: Dataset) -> bytes:
    """The Part 10 file of ``ds``, written element by element: ``dcmwrite`` refuses the Command group (0000,eeee),
    whose rows (Affected and Requested SOP Instance UID) a stored file can still carry."""
    out = DicomBytesIO()
    out.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(out, ds.file_meta, enforce_standard=True)
    syntax = ds.file_meta.TransferSyntaxUID
    out.is_little_endian, out.is_implicit_VR = syntax.is_little_endian, syntax.is_implicit_VR
    write_dataset(out, ds)
    return out.getvalue()


def test_the_profile_table_is_the_whole_table_e1_1_of_its_edition():
    assert PROFILE_EDITION == "2024b"
    assert len(PROFILE) == 621
    assert len({row.tag for row in PROFILE if row.tag is not None}) == 617
    assert {row.name for row in PROFILE if row.tag is None} == {
        "Curve Data",
        "Overlay Data",
        "Overlay Comments",
        "Private Attributes",
    }
    by_keyword = {row.keyword: row.action for row in PROFILE}
    assert (by_keyword["PatientName"], by_keyword["AccessionNumber"], by_keyword["StudyInstanceUID"]) == (
        "Z",
        "Z",
        "U",
    )
    assert set(RULES["new_uids"]) <= {row.keyword for row in PROFILE if row.new_uid}


def test_the_crafted_file_carries_every_row_of_the_table_before_and_none_after():
    data, _ = crafted()
    before = pydicom.dcmread(io.BytesIO(data))
    carried = {element.tag for element in [*before.file_meta, *before]}
    rows = [row for row in PROFILE if row.tag is not None]
    assert [row.name for row in rows if row.tag not in carried] == []
    assert len(rows) == 617

    after = copy_of(data)
    present = {element.tag: element for element in [*after.file_meta, *after.iterall()]}
    left = [
        row.name
        for row in rows
        if row.tag in present
        and row.keyword not in REGENERATED
        and not (row.keyword in EMPTIED and present[row.tag].is_empty)
    ]
    assert left == []
    assert not [element for element in after.iterall() if element.tag.is_private]
    assert not [element for element in after if element.tag.group & 0xFF00 in (0x5000, 0x6000)]
    for keyword in REGENERATED:
        old = before.file_meta if keyword.startswith("MediaStorage") else before
        new = after.file_meta if keyword.startswith("MediaStorage") else after
        if keyword in new:
            assert new[keyword].value != old[keyword].value
    assert after.PatientIdentityRemoved == "YES"
    assert after.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    check_deidentified(after)


def test_no_byte_of_any_crafted_value_survives_in_what_the_browser_is_sent():
    data, needles = crafted()
    result = processed(data, "crafted.dcm")
    served = result.dicom.data + result.derivative
    header = result.dicom.data.split(PIXEL_DATA_TAG)[0]
    assert len(needles) > 600
    # Short values (an age "012D", a number "9017") could occur by chance among the pixels: look for those in
    # the header, and for the rest in every byte.
    survived = [name for name, needle in needles.items() if needle in (served if len(needle) >= 8 else header)]
    assert survived == []
    assert b"IDX" not in served and b"IDENTITYQ" not in served


def test_the_display_attributes_the_viewer_needs_stay_as_they_were():
    data, _ = crafted()
    source = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    after = copy_of(data)
    for keyword in DISPLAY:
        assert after[keyword].value == source[keyword].value, keyword
    assert np.array_equal(after.pixel_array, source.pixel_array)
    assert processed(data).dicom.window == processed(original("CT_small.dcm")).dicom.window


def test_a_copy_left_with_a_profile_attribute_fails_the_check():
    copy = copy_of(original("CT_small.dcm"))
    check_deidentified(copy)
    nested = Dataset()
    nested.InstitutionName = "Hospital"  # inside a kept sequence
    copy.VOILUTSequence = [nested]
    with pytest.raises(AssertionError, match=r"\(0008,0080\)"):
        check_deidentified(copy)


@pytest.mark.parametrize("name", demo_dicom_files())
def test_the_demo_files_lose_identity_but_keep_pixels_and_frames(name):
    source = pydicom.dcmread(io.BytesIO(original(name)))
    data = processed(original(name), name, pixels_reviewed=name in reviewed_demo_files()).dicom.data
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
    result = processed(original("examples_ybr_color.dcm"), "cine.dcm", pixels_reviewed=True)
    assert (result.dicom.frames, result.dicom.shown_frame) == (30, 15)
    copy = pydicom.dcmread(io.BytesIO(result.dicom.data))
    assert copy.pixel_array.shape == (30, 240, 320, 3)
    assert b"PLA" not in result.dicom.data.split(PIXEL_DATA_TAG)[0]  # the patient name, before the pixels


def test_burned_in_annotation_yes_is_refused_with_the_reason():
    with pytest.raises(ImageRejected, match=r"burned.dcm: Burned In Annotation \(0028,0301\) is YES"):
        processed(ct_with(BurnedInAnnotation="YES"), "burned.dcm")
    with pytest.raises(ImageRejected, match="is YES"):  # a review cannot overrule what the file says
        processed(ct_with(BurnedInAnnotation="YES"), "burned.dcm", pixels_reviewed=True)


def test_the_same_original_always_gives_the_same_copy():
    first = processed(original("CT_small.dcm"), "a.dcm").dicom.data
    again = processed(original("CT_small.dcm"), "b.dcm").dicom.data
    assert first == again


# --- text burned into the pixels, decided by the header rules (bundles/data/burned_in_text.toml) ---------------


def ct_with(**changes) -> bytes:
    """CT_small with header attributes set (None removes one)."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    for keyword, value in changes.items():
        if value is None:
            ds.pop(keyword, None)
        else:
            setattr(ds, keyword, value)
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


SC = "1.2.840.10008.5.1.4.1.1.7"
US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
VL_PHOTO = "1.2.840.10008.5.1.4.1.1.77.1.4"


@pytest.mark.parametrize(
    ("changes", "rules"),
    [
        ({}, []),
        ({"Modality": "US"}, ["ultrasound"]),
        ({"SOPClassUID": US_MULTIFRAME}, ["ultrasound storage class"]),
        ({"SOPClassUID": SC}, ["secondary capture"]),
        ({"SOPClassUID": "1.2.840.10008.5.1.4.1.1.7.4"}, ["secondary capture"]),
        ({"ConversionType": "DF"}, ["secondary capture equipment"]),
        ({"ImageType": ["DERIVED", "SECONDARY", "MPR"]}, ["derived secondary image"]),
        ({"ImageType": ["DERIVED", "PRIMARY"]}, []),
        ({"ImageType": ["ORIGINAL", "PRIMARY", "SCREEN SHOT"]}, ["screen capture"]),
        ({"Modality": "XA", "ImageType": ["DERIVED", "PRIMARY"]}, ["angiography or fluoroscopy capture"]),
        ({"Modality": "RF"}, []),
        ({"Modality": "XC"}, ["external-camera photograph"]),
        ({"SOPClassUID": VL_PHOTO, "BurnedInAnnotation": "NO"}, ["visible-light photograph"]),
        ({"SOPClassUID": VL_PHOTO, "BurnedInAnnotation": "NO", "RecognizableVisualFeatures": "NO"}, []),
        ({"RecognizableVisualFeatures": "YES", "BurnedInAnnotation": "NO"}, ["recognizable visual features"]),
        ({"Modality": "US", "SOPClassUID": SC, "BurnedInAnnotation": "NO"}, []),
        ({"Modality": "us"}, ["ultrasound"]),
    ],
    ids=lambda value: "-".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else None,
)
def test_the_header_rules_say_which_files_may_carry_burned_in_text(changes, rules):
    ds = pydicom.dcmread(io.BytesIO(ct_with(**changes)))
    assert [reason.split(":")[0] for reason in burned_in_risk(ds)] == rules


def test_a_file_at_risk_is_refused_saying_why_and_how_to_go_on():
    with pytest.raises(ImageRejected) as caught:
        processed(ct_with(Modality="US"), "images/scan.dcm")
    message = str(caught.value)
    assert message.startswith("images/scan.dcm: its pixels may carry text or features that identify the patient")
    assert "Burned In Annotation (0028,0301) is absent" in message
    assert "ultrasound (ultrasound scanners write the patient's name or id" in message
    assert '"pixel_review": {"identifying": false' in message
    assert "set Burned In Annotation (0028,0301) to NO in the file after that review" in message
    assert "supply a copy with the text removed from the pixels" in message


def test_recognizable_features_cannot_be_cleared_by_the_burned_in_flag():
    with pytest.raises(ImageRejected) as caught:
        processed(ct_with(RecognizableVisualFeatures="YES", BurnedInAnnotation="NO"), "face.dcm")
    assert "recognizable visual features" in str(caught.value)
    assert "to NO in the file" not in str(caught.value)


def test_a_reviewed_file_at_risk_is_taken_and_keeps_the_rules_it_matched():
    result = processed(ct_with(Modality="US"), "scan.dcm", pixels_reviewed=True)
    assert [reason.split(":")[0] for reason in result.dicom.burned_in_risk] == ["ultrasound"]
    assert processed(original("CT_small.dcm")).dicom.burned_in_risk == ()


@pytest.mark.parametrize("name", demo_dicom_files())
def test_each_demo_file_is_refused_without_its_review_exactly_when_the_rules_flag_it(name):
    flagged = bool(burned_in_risk(pydicom.dcmread(io.BytesIO(original(name)), stop_before_pixels=True)))
    assert flagged == (name in reviewed_demo_files())
    if flagged:
        with pytest.raises(ImageRejected, match="may carry text"):
            processed(original(name), name)
    else:
        assert processed(original(name), name).dicom.burned_in_risk == ()


def test_the_demos_echo_and_ultrasound_files_are_the_ones_flagged():
    assert reviewed_demo_files() == {
        "US1_UNCR.dcm",
        "OBXXXX1A.dcm",
        "examples_ybr_color.dcm",
        "gdcm-US-ALOKA-16.dcm",
        "MR-SIEMENS-DICOM-WithOverlays.dcm",  # DERIVED\SECONDARY
    }
