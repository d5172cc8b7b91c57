"""bundles.imaging decodes large images within a memory budget: no full-size float copies of the pixels.

numpy reports its allocations to tracemalloc, so the traced peak is what the pixel arithmetic holds; Pillow's
own decoded image (2 bytes per pixel here) is not traced. ``bench/import_large_image.py`` measures the whole
process on a 7,700 x 7,700 image.
"""

import io
import tracemalloc

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from bundles.imaging import MAX_DERIVATIVE_EDGE, process_image

EDGE = 4200  # 17.6 million pixels: one float64 copy is 141 MB


def sixteen_bit_gradient() -> np.ndarray:
    row = np.linspace(0, 65535, EDGE).astype(np.uint16)
    return np.broadcast_to(row, (EDGE, EDGE)).copy()


def traced_peak_mib(action) -> float:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_a_large_16_bit_png_is_resized_before_its_pixels_become_floats():
    buffer = io.BytesIO()
    Image.fromarray(sixteen_bit_gradient()).save(buffer, "PNG")
    data = buffer.getvalue()

    results = []
    peak = traced_peak_mib(lambda: results.append(process_image(data=data, filename="large.png")))

    assert peak < 100, f"{peak:.0f} MiB traced"
    derivative = Image.open(io.BytesIO(results[0].derivative))
    assert max(derivative.size) == MAX_DERIVATIVE_EDGE and derivative.mode == "L"
    pixels = np.asarray(derivative)
    assert pixels[:, 0].max() < 10 and pixels[:, -1].min() > 245, "the gradient still runs from black to white"


def test_a_large_dicom_frame_is_reduced_before_its_lookup_tables_run():
    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID, ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.Rows, ds.Columns = "CR", EDGE, EDGE
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    ds.PixelData = sixteen_bit_gradient().tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()

    results = []
    peak = traced_peak_mib(lambda: results.append(process_image(data=data, filename="large.dcm")))

    assert peak < 200, f"{peak:.0f} MiB traced"  # the file, its pixel data and the decoded frame: 35 MB each
    assert max(results[0].width, results[0].height) == MAX_DERIVATIVE_EDGE
