"""bundles.imaging: format sniffing, bomb limits, metadata stripping and DICOM display.

Pure tests: no database, no Django. DICOM samples come from pydicom's bundled files and the
offline pydicom-data package.
"""

import hashlib
import io
import struct
import zlib
from functools import cache

import numpy as np
import pydicom
import pytest
from PIL import ExifTags, Image, ImageCms, PngImagePlugin
from pydicom.data import get_testdata_file
from pydicom.pixels import pixel_array

from bundles.imaging import (
    MAX_DERIVATIVE_EDGE,
    ImageRejected,
    ProcessedImage,
    process_image,
    sha256_hex,
)

# --- helpers --------------------------------------------------------------------------------


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()


def decode(result: ProcessedImage) -> Image.Image:
    image = Image.open(io.BytesIO(result.derivative))
    assert image.format == result.derivative_format
    assert image.size == (result.width, result.height)
    return image


def png_chunks(data: bytes) -> list[str]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append(data[pos + 4 : pos + 8].decode("ascii"))
        pos += 12 + length
    return chunks


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG signature + IHDR claiming width x height, with no pixel data at all."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def gradient_rgb(width: int = 120, height: int = 80) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.uint8)
    y = np.linspace(0, 255, height, dtype=np.uint8)
    rgb = np.stack([np.tile(x, (height, 1)), np.tile(y[:, None], (1, width)), np.full((height, width), 90, np.uint8)])
    return Image.fromarray(np.moveaxis(rgb, 0, -1))


@cache
def dicom_bytes(name: str) -> bytes:
    with open(get_testdata_file(name), "rb") as fh:
        return fh.read()


@cache
def processed(name: str) -> ProcessedImage:
    # These tests are about decoding; which files need a pixel review first is tested in test_deidentify.py.
    return process_image(data=dicom_bytes(name), filename=name, pixels_reviewed=True)


def pixels(result: ProcessedImage) -> np.ndarray:
    return np.asarray(decode(result))


def reject(data: bytes, filename: str = "upload.bin", **kwargs) -> str:
    with pytest.raises(ImageRejected) as excinfo:
        process_image(data=data, filename=filename, **kwargs)
    message = str(excinfo.value)
    assert filename in message
    return message


# --- accepted photographic formats ---------------------------------------------------------


def test_jpeg_photo_gets_a_jpeg_derivative_and_checksum_of_the_original():
    data = encode(gradient_rgb(), "JPEG", quality=95)
    result = process_image(data=data, filename="photo.jpg")
    assert result.original_format == "JPEG"
    assert result.derivative_format == "JPEG"
    assert (result.width, result.height) == (120, 80)
    assert result.checksum == hashlib.sha256(data).hexdigest() == sha256_hex(data)
    assert result.modality_hint is None and result.description is None
    derivative = decode(result)
    assert derivative.mode == "RGB"
    assert np.abs(np.asarray(derivative, int) - np.asarray(gradient_rgb(), int)).max() <= 12


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_lossless_formats_keep_exact_pixels_as_png(fmt):
    source = gradient_rgb()
    result = process_image(data=encode(source, fmt), filename=f"image.{fmt.lower()}")
    assert result.original_format == fmt
    assert result.derivative_format == "PNG"
    assert np.array_equal(pixels(result), np.asarray(source))


def test_format_comes_from_bytes_not_file_name():
    png = process_image(data=encode(gradient_rgb(), "PNG"), filename="scan.dcm")
    dicom = process_image(data=dicom_bytes("CT_small.dcm"), filename="holiday.jpg")
    assert (png.original_format, dicom.original_format) == ("PNG", "DICOM")


def test_phone_jpeg_with_multi_picture_index_is_accepted_as_jpeg():
    data = encode(Image.new("RGB", (64, 48), "red"), "MPO", save_all=True, append_images=[Image.new("RGB", (64, 48))])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    result = process_image(data=data, filename="IMG_0001.jpg")
    assert (result.original_format, result.width, result.height) == ("JPEG", 64, 48)
    assert pixels(result)[24, 32, 0] > 240  # the first (red) picture


def test_exif_gps_is_dropped_and_orientation_applied():
    # Left half red, right half blue, stored sideways: orientation 6 = rotate 90 degrees clockwise to display.
    source = Image.new("RGB", (40, 20), "red")
    source.paste((0, 0, 255), (20, 0, 40, 20))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "PhoneCo"
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(
        {ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (52.0, 22.0, 7.0)}
    )
    data = encode(source, "JPEG", exif=exif, quality=95)
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the input really has GPS

    result = process_image(data=data, filename="wound.jpg")
    derivative = decode(result)
    assert (result.width, result.height) == (20, 40)  # now portrait
    assert dict(derivative.getexif()) == {}
    assert b"Exif" not in result.derivative and b"PhoneCo" not in result.derivative
    top, bottom = derivative.getpixel((10, 8)), derivative.getpixel((10, 32))
    assert top[0] > 200 and top[2] < 50  # red half rotated to the top
    assert bottom[2] > 200 and bottom[0] < 50


def test_png_text_icc_and_dpi_are_stripped():
    source = gradient_rgb()
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "Patient: Jane Doe, MRN 123456")
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(source, "PNG", pnginfo=text, icc_profile=srgb, dpi=(300, 300))
    assert {"tEXt", "iCCP", "pHYs"} <= set(png_chunks(data))

    result = process_image(data=data, filename="derm.png")
    assert set(png_chunks(result.derivative)) == {"IHDR", "IDAT", "IEND"}
    assert b"Jane Doe" not in result.derivative
    assert decode(result).info == {}
    assert np.abs(pixels(result).astype(int) - np.asarray(source, int)).max() <= 1  # sRGB -> sRGB


def test_sixteen_bit_greyscale_is_rescaled_to_full_8_bit_range():
    ramp = np.tile(np.linspace(1000, 4000, 256).astype(np.uint16), (32, 1))  # 12-bit data in a 16-bit PNG
    source = Image.fromarray(ramp)
    assert source.mode == "I;16"
    derivative = pixels(process_image(data=encode(source, "PNG"), filename="xray16.png"))
    assert derivative.dtype == np.uint8 and derivative.shape == (32, 256)
    assert derivative[0, 0] == 0 and derivative[0, -1] == 255
    assert 120 <= derivative[0, 128] <= 135
    assert np.all(np.diff(derivative[0].astype(int)) >= 0)  # monotone: no wrap-around


@pytest.mark.parametrize(
    ("source", "fmt", "expected_mode"),
    [
        (Image.new("P", (16, 16), 3), "PNG", "RGB"),
        (Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", "RGB"),
        (Image.new("RGBA", (16, 16), (0, 255, 0, 128)), "PNG", "RGBA"),
        (Image.new("LA", (16, 16), (200, 100)), "PNG", "RGBA"),
        (Image.new("1", (16, 16), 1), "TIFF", "L"),
        (Image.new("L", (16, 16), 77), "JPEG", "L"),
    ],
    ids=["palette", "cmyk", "rgba", "la", "bilevel", "grey-jpeg"],
)
def test_modes_are_converted_sensibly(source, fmt, expected_mode):
    result = process_image(data=encode(source, fmt), filename=f"x.{fmt.lower()}")
    assert decode(result).mode == expected_mode
    assert result.derivative_format == ("JPEG" if fmt == "JPEG" and expected_mode == "RGB" else "PNG")


def test_cmyk_red_stays_red():
    result = process_image(data=encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG"), filename="c.jpg")
    red, green, blue = pixels(result)[8, 8]
    assert red > 230 and green < 30 and blue < 30


def test_palette_with_transparency_keeps_alpha():
    source = Image.new("P", (16, 16), 1)
    source.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    source.paste(0, (0, 0, 8, 16))
    result = process_image(data=encode(source, "PNG", transparency=0), filename="p.png")
    rgba = pixels(result)
    assert rgba.shape == (16, 16, 4)
    assert rgba[8, 2, 3] == 0 and tuple(rgba[8, 12]) == (255, 0, 0, 255)


def test_large_image_is_downscaled_to_max_edge_keeping_aspect():
    result = process_image(data=encode(Image.new("L", (3000, 1000), 128), "PNG"), filename="pano.png")
    assert MAX_DERIVATIVE_EDGE == 2048
    assert (result.width, result.height) == (2048, 683)
    assert np.all(pixels(result) == 128)


# --- rejections -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "WEBP"])
def test_other_image_formats_are_named_and_rejected(fmt):
    message = reject(encode(Image.new("RGB", (8, 8)), fmt), filename=f"scan.{fmt.lower()}")
    assert f"unsupported format '{fmt}'" in message
    assert "(accepted: JPEG, PNG, TIFF, DICOM)" in message


@pytest.mark.parametrize(
    "data",
    [b"hello, this is a text file\n", bytes(range(256)) * 4, b"\x00" * 200],
    ids=["text", "garbage", "zeros"],
)
def test_non_images_are_rejected(data):
    assert "not a recognised image format" in reject(data)


def test_empty_upload_is_rejected():
    assert "empty file" in reject(b"")


def test_non_bytes_is_a_type_error():
    with pytest.raises(TypeError, match="data must be bytes"):
        process_image(data="not bytes", filename="x.png")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files_are_rejected(fmt):
    data = encode(gradient_rgb(400, 300), fmt)
    message = reject(data[: len(data) // 2], filename=f"cut.{fmt.lower()}")
    assert f"corrupt or truncated {fmt}" in message


def test_bomb_is_rejected_from_the_header_before_decoding():
    # 5000x5000 header with no pixel data: decoding would fail as "truncated", so this message
    # proves the size check ran first.
    message = reject(png_header_only(5000, 5000), filename="bomb.png", max_pixels=1_000_000)
    assert "5000x5000 = 25,000,000 pixels exceeds the limit of 1,000,000" in message


def test_header_over_default_limit_is_rejected():
    assert "exceeds the limit of 100,000,000" in reject(png_header_only(10_001, 10_000), filename="big.png")


def test_huge_header_triggers_pillow_bomb_error_which_is_converted():
    assert "image too large" in reject(png_header_only(100_000, 100_000), filename="huge.png")


def test_the_limit_not_pillows_warning_decides_up_to_100_million_pixels():
    # 100 Mpx is above Pillow's warning threshold (~89 Mpx): the header passes the size checks, so only the
    # missing pixel data is refused.
    assert Image.MAX_IMAGE_PIXELS < 100_000_000
    message = reject(png_header_only(10_000, 10_000), filename="slide.png")
    assert "corrupt or truncated PNG" in message and "too large" not in message


def test_image_exactly_at_the_limit_is_accepted():
    result = process_image(data=encode(Image.new("L", (100, 50)), "PNG"), filename="ok.png", max_pixels=5000)
    assert (result.width, result.height) == (100, 50)
    reject(encode(Image.new("L", (100, 50)), "PNG"), filename="no.png", max_pixels=4999)


def test_dicom_over_the_limit_counts_every_frame():
    data = dicom_bytes("eCT_Supplemental.dcm")  # 512 x 512 x 2 frames
    message = reject(data, filename="ct.dcm", max_pixels=512 * 512 * 2 - 1)
    assert "512x512 x 2 frame(s) = 524,288 pixels exceeds the limit of 524,287" in message
    assert process_image(data=data, filename="ct.dcm", max_pixels=512 * 512 * 2).width == 512


def test_truncated_dicom_is_rejected():
    data = dicom_bytes("CT_small.dcm")
    assert "DICOM file has no image" in reject(data[:1000], filename="cut.dcm")
    assert "cannot decode DICOM pixel data" in reject(data[:-5000], filename="cut.dcm")


def test_dicom_without_pixel_data_is_rejected():
    ds = pydicom.dcmread(io.BytesIO(dicom_bytes("CT_small.dcm")))
    del ds.PixelData
    buf = io.BytesIO()
    ds.save_as(buf)
    assert "DICOM file has no image" in reject(buf.getvalue(), filename="sr.dcm")


# --- DICOM display --------------------------------------------------------------------------


def test_dicom_metadata_hints_and_clean_png():
    result = processed("RG1_UNCI.dcm")
    assert (result.original_format, result.derivative_format) == ("DICOM", "PNG")
    assert (result.modality_hint, result.description) == ("CR", "THORAX / CHEST")
    assert (result.width, result.height) == (1841, 1955)
    assert result.checksum == hashlib.sha256(dicom_bytes("RG1_UNCI.dcm")).hexdigest()
    assert set(png_chunks(result.derivative)) == {"IHDR", "IDAT", "IEND"}
    assert processed("MR2_UNCI.dcm").description == "SHOULDER"


def test_monochrome1_chest_is_inverted_so_bone_is_white():
    ds = pydicom.dcmread(io.BytesIO(dicom_bytes("RG1_UNCI.dcm")))
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    raw = pixel_array(ds)
    spine, lung = (slice(1000, 1080), slice(880, 960)), (slice(540, 600), slice(400, 460))
    assert raw[spine].mean() < raw[lung].mean()  # MONOCHROME1: dense tissue has LOW stored values

    shown = pixels(processed("RG1_UNCI.dcm"))
    assert shown[spine].mean() > 200 and shown[lung].mean() < 160  # displayed: spine white, lung darker

    ds.PhotometricInterpretation = "MONOCHROME2"  # same pixels, opposite interpretation
    buf = io.BytesIO()
    ds.save_as(buf)
    as_mono2 = pixels(process_image(data=buf.getvalue(), filename="mono2.dcm"))
    assert np.array_equal(shown, 255 - as_mono2)


def test_monochrome1_extremity_has_white_bone_and_black_air():
    shown = pixels(processed("RG3_UNCI.dcm"))
    tibia, air = shown[300:500, 850:900].mean(), shown[700:900, 500:560].mean()
    assert tibia > 180 and air < 50


def test_multi_frame_uses_middle_frame_with_its_functional_group_window():
    data = dicom_bytes("eCT_Supplemental.dcm")
    ds = pydicom.dcmread(io.BytesIO(data))
    assert ds.NumberOfFrames == 2 and "WindowCenter" not in ds  # window lives in the functional groups
    shown = pixels(processed("eCT_Supplemental.dcm")).astype(int)

    def expected(frame_index: int) -> np.ndarray:
        hu = pixel_array(ds, index=frame_index).astype(float) - 1024  # Rescale Intercept -1024, slope 1
        center, width = 49 - 0.5, 102 - 1  # DICOM LINEAR window 49 / 102
        return np.clip(np.rint(((hu - center) / width + 0.5) * 255), 0, 255).astype(int)

    assert np.abs(shown - expected(1)).max() <= 1  # frames // 2 == 1
    assert np.abs(shown - expected(0)).mean() > 10  # and it is not the first frame
    assert shown.min() == 0 and shown.max() == 255


def test_colour_ultrasound_stays_rgb():
    result = processed("US1_UNCI.dcm")
    shown = pixels(result)
    assert result.modality_hint == "US"
    assert shown.shape == (480, 640, 3)
    assert np.array_equal(shown, pixel_array(pydicom.dcmread(io.BytesIO(dicom_bytes("US1_UNCI.dcm")))))
    doppler = (shown[..., 0].astype(int) - shown[..., 2]) > 100  # orange/red flow signal
    assert doppler.sum() > 1000


def test_ybr_colour_is_converted_to_rgb():
    rgb = pixels(processed("SC_rgb.dcm")).astype(int)
    ybr = pixels(processed("SC_ybr_full_uncompressed.dcm")).astype(int)
    assert ybr.shape == (100, 100, 3)
    assert np.abs(rgb - ybr).max() <= 6
    assert tuple(ybr[5, 50]) == (254, 0, 0)  # the top band is red


def test_palette_colour_ultrasound_is_expanded_to_rgb():
    shown = pixels(processed("OBXXXX1A.dcm"))
    assert shown.shape == (600, 800, 3)
    red, green, blue = shown[30, 400].astype(int)
    assert blue > red + 40  # the blue Philips header bar


def test_sixteen_bit_ct_without_window_uses_full_range():
    ds = pydicom.dcmread(io.BytesIO(dicom_bytes("CT_small.dcm")))
    assert ds.BitsAllocated == 16 and "WindowCenter" not in ds
    shown = pixels(processed("CT_small.dcm"))
    assert shown.min() == 0 and shown.max() == 255
    assert len(np.unique(shown)) > 200
    assert 0.003 < (shown == 0).mean() < 0.05 and 0.003 < (shown == 255).mean() < 0.05  # 0.5 % tails clipped


def test_mr_with_stored_window_is_windowed():
    shown = pixels(processed("MR_small.dcm")).astype(int)
    ds = pydicom.dcmread(io.BytesIO(dicom_bytes("MR_small.dcm")))
    center, width = float(ds.WindowCenter) - 0.5, float(ds.WindowWidth) - 1  # 600 / 1600
    expected = np.clip(np.rint(((pixel_array(ds) - center) / width + 0.5) * 255), 0, 255)
    assert np.abs(shown - expected).max() <= 1
