"""bundles.tiles: the Deep Zoom pyramid OpenSeadragon reads, and which images get one."""

import io
import math
import xml.etree.ElementTree as ET

import numpy as np
from PIL import Image

from bundles import imaging
from bundles.tiles import OVERLAP, TILE_SIZE, deep_zoom


def gradient(width: int, height: int) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.uint8)
    return Image.fromarray(np.stack([np.tile(x, (height, 1))] * 3, axis=-1))


def test_every_level_is_cut_into_overlapping_tiles_down_to_one_pixel():
    pyramid = deep_zoom(image=gradient(600, 300))
    root = ET.fromstring(pyramid.descriptor)
    assert root.get("TileSize") == str(TILE_SIZE) and root.get("Overlap") == str(OVERLAP)
    size = root.find("{http://schemas.microsoft.com/deepzoom/2008}Size")
    assert (size.get("Width"), size.get("Height")) == ("600", "300")
    top = math.ceil(math.log2(600))  # 10
    assert {name.split("/")[0] for name in pyramid.tiles} == {str(level) for level in range(top + 1)}
    assert sorted(n for n in pyramid.tiles if n.startswith(f"{top}/")) == [
        f"{top}/0_0.jpg",
        f"{top}/0_1.jpg",
        f"{top}/1_0.jpg",
        f"{top}/1_1.jpg",
        f"{top}/2_0.jpg",
        f"{top}/2_1.jpg",
    ]
    sizes = {name: Image.open(io.BytesIO(data)).size for name, data in pyramid.tiles.items()}
    assert sizes[f"{top}/0_0.jpg"] == (TILE_SIZE + OVERLAP, TILE_SIZE + OVERLAP)
    assert sizes[f"{top}/1_1.jpg"] == (TILE_SIZE + 2 * OVERLAP, 300 - TILE_SIZE + OVERLAP)
    assert sizes[f"{top}/2_0.jpg"] == (600 - 2 * TILE_SIZE + OVERLAP, TILE_SIZE + OVERLAP)
    assert sizes["0/0_0.jpg"] == (1, 1)


def test_large_images_get_a_pyramid_and_small_ones_keep_the_derivative_only(monkeypatch):
    photo = io.BytesIO()
    gradient(900, 700).save(photo, "JPEG")
    small = imaging.process_image(data=photo.getvalue(), filename="small.jpg")
    assert small.tiles is None
    monkeypatch.setattr(imaging, "TILE_MIN_PIXELS", 900 * 700)
    large = imaging.process_image(data=photo.getvalue(), filename="large.jpg")
    assert (large.tiles.width, large.tiles.height) == (900, 700)
    assert (large.width, large.height) == (900, 700)  # the derivative is still made
