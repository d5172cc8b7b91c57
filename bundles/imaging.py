"""Turn uploaded clinical image bytes into a safe, metadata-free web derivative.

Pure module: no Django imports. The single entry point is :func:`process_image`.

* The format is sniffed from the bytes (never the file name); only JPEG, PNG, TIFF and DICOM are accepted.
* Decompression bombs are rejected from the header, before any pixel is decoded.
* The derivative is rebuilt from raw pixels, so no EXIF (GPS!), ICC, XMP or text chunk survives.
  EXIF orientation is applied first and ICC colours are converted to sRGB, so photos look as they did.
* DICOM goes through the modality LUT (rescale) and the stored VOI LUT / window, like a PACS viewer;
  without a stored window the 0.5-99.5 percentile range is used. MONOCHROME1 is inverted,
  multi-frame files contribute their middle frame and colour data stays RGB. Every DICOM file also gets a
  de-identified, uncompressed copy of all its frames for the browser's viewer (:mod:`bundles.deidentify`).
* 8-bit photographs and slides of ``TILE_MIN_PIXELS`` or more also get a Deep Zoom pyramid (:mod:`bundles.tiles`).
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

import numpy as np
import pydicom
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut, pixel_array

from bundles.deidentify import DeidentificationRefused, DeidentifiedDicom, deidentified_copy
from bundles.tiles import TILE_MIN_PIXELS, DeepZoom, deep_zoom

MAX_PIXELS = 100_000_000  # pathology and dermoscopy photographs run to 20-100 million pixels
MAX_DERIVATIVE_EDGE = 2048
ACCEPTED_FORMATS = ("JPEG", "PNG", "TIFF", "DICOM")
JPEG_QUALITY = 90
# Pillow names a JPEG carrying a Multi-Picture index (most phone cameras) "MPO"; it is still a JPEG.
_PILLOW_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "TIFF": "TIFF"}


class ImageRejected(ValueError):
    """The upload is not an image we accept; the message says why."""


@dataclass(frozen=True)
class ProcessedImage:
    """A validated upload and its web derivative."""

    original_format: str  # "JPEG" | "PNG" | "TIFF" | "DICOM"
    checksum: str  # sha256 hex of the original bytes
    width: int  # of the derivative
    height: int
    derivative: bytes  # encoded image without metadata
    derivative_format: str  # "PNG", or "JPEG" for photographs that arrived as JPEG
    modality_hint: str | None  # DICOM Modality, e.g. "CR", "MR", "US", "CT"
    description: str | None  # DICOM study / series description and body part, when present
    dicom: DeidentifiedDicom | None = None  # every frame, de-identified, for the viewer
    tiles: DeepZoom | None = None  # a Deep Zoom pyramid of a large photograph or slide


def sha256_hex(data: bytes) -> str:
    """Return the SHA-256 hex digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def process_image(
    *, data: bytes, filename: str, max_pixels: int = MAX_PIXELS, pixels_reviewed: bool = False
) -> ProcessedImage:
    """Validate ``data`` and build its web derivative.

    ``filename`` is used only in error messages. Images with more than ``max_pixels`` pixels
    (for DICOM: Rows x Columns x frames) are refused before decoding. A DICOM file whose header says its pixels
    may identify the patient (:func:`bundles.deidentify.burned_in_risk`) is refused unless ``pixels_reviewed``:
    someone looked at every frame and recorded that nothing in them identifies anyone.

    Raises :class:`ImageRejected` for anything that is not a readable JPEG, PNG, TIFF or DICOM
    within the size limit.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"data must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise ImageRejected(f"{filename}: empty file")
    dicom = tiles = None
    if data[128:132] == b"DICM":
        image, original_format, modality, description, dicom = _from_dicom(data, filename, max_pixels, pixels_reviewed)
    else:
        image, original_format, tiles = _from_pillow(data, filename, max_pixels)
        modality = description = None

    if max(image.size) > MAX_DERIVATIVE_EDGE:
        image.thumbnail((MAX_DERIVATIVE_EDGE, MAX_DERIVATIVE_EDGE), Image.Resampling.LANCZOS)
    # A fresh image from raw pixels carries no EXIF, ICC, XMP, text chunks or DPI.
    clean = Image.frombytes(image.mode, image.size, image.tobytes())
    out = io.BytesIO()
    if original_format == "JPEG" and clean.mode == "RGB":
        derivative_format = "JPEG"  # already lossy; PNG would be ~10x larger for no visible gain
        clean.save(out, "JPEG", quality=JPEG_QUALITY, subsampling=0)
    else:
        derivative_format = "PNG"
        clean.save(out, "PNG")
    return ProcessedImage(
        original_format=original_format,
        checksum=sha256_hex(data),
        width=clean.width,
        height=clean.height,
        derivative=out.getvalue(),
        derivative_format=derivative_format,
        modality_hint=modality,
        description=description,
        dicom=dicom,
        tiles=tiles,
    )


# --- JPEG / PNG / TIFF ------------------------------------------------------------------------


def _from_pillow(data: bytes, filename: str, max_pixels: int) -> tuple[Image.Image, str, DeepZoom | None]:
    # Pillow's own bomb check warns above Image.MAX_IMAGE_PIXELS (about 89 million) and refuses twice that: the
    # limit checked below, right after the header, decides instead of the warning; the refusal still stands.
    with warnings.catch_warnings(action="ignore", category=Image.DecompressionBombWarning):
        try:
            image = Image.open(io.BytesIO(data), formats=["JPEG", "PNG", "TIFF"])  # reads the header only
        except UnidentifiedImageError:
            raise ImageRejected(
                f"{filename}: {_describe_unsupported(data)} (accepted: {', '.join(ACCEPTED_FORMATS)})"
            ) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejected(f"{filename}: image too large: {exc}") from None
        except Exception as exc:  # any parser failure on untrusted bytes is a rejection
            raise ImageRejected(f"{filename}: unreadable image header ({exc})") from None
        original_format = _PILLOW_FORMATS[image.format]
        width, height = image.size
        if width * height > max_pixels:
            raise ImageRejected(
                f"{filename}: {width}x{height} = {width * height:,} pixels exceeds the limit of {max_pixels:,}"
            )
        tiles = None
        try:
            # Photographs and slides (8-bit) at full resolution for the pyramid, then the derivative; 16-bit and
            # float images are shrunk first, before their values become floats (the memory budget).
            if width * height >= TILE_MIN_PIXELS and not image.mode.startswith(("I", "F")):
                image.load()
                ImageOps.exif_transpose(image, in_place=True)  # no second full-size copy
                image = _to_display_mode(image)
                tiles = deep_zoom(image=image)
                image = _shrink(image)
            else:
                if original_format == "JPEG":
                    image.draft(image.mode, (MAX_DERIVATIVE_EDGE, MAX_DERIVATIVE_EDGE))  # decode at 1/2, 1/4, 1/8
                image.load()
                image = _to_display_mode(ImageOps.exif_transpose(_shrink(image)))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejected(f"{filename}: image too large: {exc}") from None
        except Exception as exc:
            raise ImageRejected(f"{filename}: corrupt or truncated {original_format} ({exc})") from None
    return image, original_format, tiles


def _shrink(image: Image.Image) -> Image.Image:
    """Resize a decoded image to the derivative's size in its own mode, before any conversion copies it."""
    if max(image.size) <= MAX_DERIVATIVE_EDGE:
        return image
    if image.mode in ("1", "P"):  # Pillow resizes these by nearest neighbour only: convert (1 byte per pixel) first
        image = image.convert("L" if image.mode == "1" else "RGBA" if "transparency" in image.info else "RGB")
    scale = MAX_DERIVATIVE_EDGE / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # Pillow's reduce() before resampling refuses 16-bit modes, so those resample in one pass.
    gap = None if image.mode.startswith("I;16") else 2.0
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=gap)


def _describe_unsupported(data: bytes) -> str:
    """Name the format we refuse, for the error message (Pillow reads the header only, never decodes)."""
    try:
        with Image.open(io.BytesIO(data)) as other:
            return f"unsupported format {other.format!r}"
    except Exception:
        return "not a recognised image format"


def _to_display_mode(image: Image.Image) -> Image.Image:
    """Return an L, RGB or RGBA image; alpha is kept only when the source has transparency."""
    if image.mode.startswith("I") or image.mode == "F":  # 16/32-bit integer or float greyscale
        values = np.asarray(image)
        return Image.fromarray(_to_uint8(values, *_robust_range(values)))
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "RGBA", "CMYK"):
        try:  # honour the embedded profile (Display P3, Adobe RGB, CMYK...) before dropping it
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            target = ImageCms.createProfile("sRGB")
            return ImageCms.profileToProfile(image, source, target, outputMode="RGBA" if has_alpha else "RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # broken profile: fall back to a plain conversion
    mode = "L" if image.mode in ("1", "L") else "RGBA" if has_alpha else "RGB"
    return image if image.mode == mode else image.convert(mode)  # convert() to the same mode would copy


# --- DICOM ------------------------------------------------------------------------------------


def _from_dicom(
    data: bytes, filename: str, max_pixels: int, pixels_reviewed: bool
) -> tuple[Image.Image, str, str | None, str | None, DeidentifiedDicom]:
    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=False)  # parses elements; pixels stay encoded
    except Exception as exc:  # any parser failure on untrusted bytes is a rejection
        raise ImageRejected(f"{filename}: unreadable DICOM ({exc})") from None
    if "PixelData" not in ds or "Rows" not in ds or "Columns" not in ds:
        raise ImageRejected(f"{filename}: DICOM file has no image (truncated, or a non-image object)")
    try:
        rows, columns = int(ds.Rows), int(ds.Columns)
        frames = max(int(ds.get("NumberOfFrames") or 1), 1)
    except (TypeError, ValueError) as exc:
        raise ImageRejected(f"{filename}: invalid DICOM image size ({exc})") from None
    if rows * columns * frames > max_pixels:
        raise ImageRejected(
            f"{filename}: DICOM {columns}x{rows} x {frames} frame(s) = {rows * columns * frames:,} pixels "
            f"exceeds the limit of {max_pixels:,}"
        )
    index = frames // 2  # the middle frame
    try:
        _flatten_functional_groups(ds, index)
        frame = pixel_array(ds, index=index if frames > 1 else None)  # decodes only that frame
        image = Image.fromarray(_dicom_to_uint8(_shrink_frame(frame, ds), ds))
    except Exception as exc:
        raise ImageRejected(f"{filename}: cannot decode DICOM pixel data ({exc})") from None
    try:
        copy = deidentified_copy(
            ds=ds, checksum=sha256_hex(data), filename=filename, shown_frame=index, pixels_reviewed=pixels_reviewed
        )
    except DeidentificationRefused as exc:
        raise ImageRejected(str(exc)) from None
    except Exception as exc:
        raise ImageRejected(f"{filename}: cannot build the de-identified copy ({exc})") from None
    parts = [str(ds.get(k) or "").strip() for k in ("StudyDescription", "SeriesDescription", "BodyPartExamined")]
    description = " / ".join(dict.fromkeys(p for p in parts if p)) or None
    modality = str(ds.get("Modality") or "").strip() or None
    return image, "DICOM", modality, description, copy


def _flatten_functional_groups(ds: pydicom.Dataset, index: int) -> None:
    """Copy rescale and window of frame ``index`` from an enhanced multi-frame's functional groups
    to the top level, where pydicom's LUT functions look for them."""
    groups = []
    if per_frame := ds.get("PerFrameFunctionalGroupsSequence"):
        groups.append(per_frame[min(index, len(per_frame) - 1)])
    if shared := ds.get("SharedFunctionalGroupsSequence"):
        groups.append(shared[0])
    for keyword in ("PixelValueTransformationSequence", "FrameVOILUTSequence"):
        item = next((g[keyword][0] for g in groups if g.get(keyword)), None)
        for element in item or ():
            if element.tag not in ds:
                ds[element.tag] = element


def _shrink_frame(frame: np.ndarray, ds: pydicom.Dataset) -> np.ndarray:
    """Reduce a frame at least twice the derivative's edge by a whole factor, before the LUTs copy it as floats.

    Block means keep the picture smooth; frames mapped through lookup tables (palette, modality or VOI LUT
    sequences) are sampled instead, since a table needs the stored values."""
    factor = max(frame.shape[:2]) // MAX_DERIVATIVE_EDGE
    if factor < 2:
        return frame
    lookup = ds.get("ModalityLUTSequence") or ds.get("VOILUTSequence")
    if lookup or str(ds.get("PhotometricInterpretation", "")).strip() == "PALETTE COLOR":
        return np.ascontiguousarray(frame[::factor, ::factor])
    rows, columns = frame.shape[0] // factor, frame.shape[1] // factor
    blocks = frame[: rows * factor, : columns * factor].reshape(rows, factor, columns, factor, *frame.shape[2:])
    return blocks.mean(axis=(1, 3), dtype=np.float64)


def _dicom_to_uint8(frame: np.ndarray, ds: pydicom.Dataset) -> np.ndarray:
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip()
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(frame, ds)
        return _to_uint8(rgb, 0, np.iinfo(rgb.dtype).max)
    if frame.ndim == 3:  # RGB, or YBR_* which pydicom 3 already converted to RGB
        bits = int(ds.get("BitsStored") or 8)
        return _to_uint8(frame, 0, 2**bits - 1)

    values = apply_modality_lut(frame, ds)
    low = high = None
    try:
        if ds.get("VOILUTSequence") and "LUTData" in ds.VOILUTSequence[0]:
            count, first = ds.VOILUTSequence[0].LUTDescriptor[:2]
            entries = apply_voi_lut(np.arange(first, first + (count or 65536)), ds)
            low, high = float(entries.min()), float(entries.max())  # real output range of the LUT
            values = apply_voi_lut(values, ds)
        elif "WindowCenter" in ds and "WindowWidth" in ds:
            window_range = _window_output_range(ds)
            values = apply_voi_lut(values, ds, prefer_lut=False)
            low, high = window_range
    except (ValueError, TypeError, IndexError, NotImplementedError):
        low = high = None  # unusable stored window: fall back to the data's own range
    if low is None:
        low, high = _robust_range(values)
    pixels = _to_uint8(values, low, high)
    return 255 - pixels if photometric == "MONOCHROME1" else pixels


def _window_output_range(ds: pydicom.Dataset) -> tuple[float, float]:
    """The output range pydicom's ``apply_windowing`` maps the window onto."""
    if ds.get("ModalityLUTSequence"):
        return 0, 2 ** ds.ModalityLUTSequence[0].LUTDescriptor[2] - 1
    bits = int(ds.BitsStored)
    low, high = (0, 2**bits - 1) if ds.PixelRepresentation == 0 else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    if "RescaleSlope" in ds and "RescaleIntercept" in ds:
        slope, intercept = float(ds.RescaleSlope), float(ds.RescaleIntercept)
        low, high = low * slope + intercept, high * slope + intercept
    return low, high


# --- helpers ----------------------------------------------------------------------------------


def _robust_range(values: np.ndarray) -> tuple[float, float]:
    """0.5th and 99.5th percentiles: ignores burnt-in labels and dead pixels."""
    low, high = np.percentile(values, (0.5, 99.5))
    return float(low), float(high)


def _to_uint8(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Map ``low..high`` linearly onto 0..255, clipping outside."""
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    scaled = values.astype(np.float64)  # one working copy, changed in place
    scaled -= low
    scaled *= 255.0 / (high - low)
    np.rint(scaled, out=scaled)
    np.clip(scaled, 0, 255, out=scaled)
    return scaled.astype(np.uint8)
