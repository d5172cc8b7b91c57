"""Deep Zoom pyramids of large photographs and slides, for OpenSeadragon.

Pure module: no Django imports. The layout is Microsoft's Deep Zoom Image format as OpenSeadragon reads it: a
``.dzi`` descriptor and, beside it, ``<name>_files/<level>/<column>_<row>.jpg``; level ``L`` is the image scaled by
``2^(L - max_level)`` with ``max_level = ceil(log2(max(width, height)))``, cut into ``TILE_SIZE`` squares that
overlap their neighbours by ``OVERLAP`` pixels.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from PIL import Image

TILE_MIN_PIXELS = 16_000_000  # below this the 2048-pixel derivative shows the image well enough
TILE_SIZE = 254
OVERLAP = 1
TILE_QUALITY = 85


@dataclass(frozen=True)
class DeepZoom:
    descriptor: bytes  # the .dzi XML
    tiles: dict[str, bytes]  # "<level>/<column>_<row>.jpg" -> JPEG bytes
    width: int
    height: int


def deep_zoom(*, image: Image.Image) -> DeepZoom:
    """Cut ``image`` (L, RGB or RGBA; alpha is dropped onto white) into a Deep Zoom pyramid."""
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, "white")
        background.paste(image, mask=image.getchannel("A"))
        image = background
    elif image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    width, height = image.size
    max_level = math.ceil(math.log2(max(width, height)))
    tiles: dict[str, bytes] = {}
    level_image = image
    for level in range(max_level, -1, -1):
        scale = 2 ** (max_level - level)
        size = (max(1, math.ceil(width / scale)), max(1, math.ceil(height / scale)))
        if level_image.size != size:
            # Halving by block means in one pass (its size rounds up, as size does); resize() would first build an
            # intermediate image of half the pixels of the level above.
            level_image = level_image.reduce(2)
        for column in range(math.ceil(size[0] / TILE_SIZE)):
            for row in range(math.ceil(size[1] / TILE_SIZE)):
                tiles[f"{level}/{column}_{row}.jpg"] = _tile(level_image, column, row)
    descriptor = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Image xmlns="http://schemas.microsoft.com/deepzoom/2008" Format="jpg" Overlap="{OVERLAP}" '
        f'TileSize="{TILE_SIZE}"><Size Width="{width}" Height="{height}"/></Image>\n'
    ).encode()
    return DeepZoom(descriptor=descriptor, tiles=tiles, width=width, height=height)


def _tile(image: Image.Image, column: int, row: int) -> bytes:
    left = column * TILE_SIZE - (OVERLAP if column else 0)
    top = row * TILE_SIZE - (OVERLAP if row else 0)
    right = min(image.width, (column + 1) * TILE_SIZE + OVERLAP)
    bottom = min(image.height, (row + 1) * TILE_SIZE + OVERLAP)
    out = io.BytesIO()
    image.crop((left, top, right, bottom)).save(out, "JPEG", quality=TILE_QUALITY)
    return out.getvalue()
