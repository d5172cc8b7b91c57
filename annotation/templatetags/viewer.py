"""What the image viewer (static/js/viewer.js) needs to know of one image, as one JSON attribute."""

import json
import tomllib
from pathlib import Path

from django import template
from django.core.files.storage import default_storage

from annotation.models import Image

register = template.Library()

PRESETS_FILE = Path(__file__).resolve().parent.parent / "data" / "window_presets.toml"
with PRESETS_FILE.open("rb") as handle:
    PRESETS = tomllib.load(handle)


def presets_for(*, modality: str, window: list | None) -> list[dict]:
    """The file's own window first, then the modality's presets (``data/window_presets.toml``)."""
    own = [{"name": "File's own", "centre": window[0], "width": window[1]}] if window else []
    return own + [dict(preset) for preset in PRESETS.get(modality, [])]


@register.filter
def viewer_config(image: Image) -> str:
    display = image.display or {}
    config = {"id": image.pk, "kind": display.get("kind", "image")}
    if image.web_dicom:
        config.update(
            dicom=image.web_dicom.url,
            frames=display.get("frames", 1),
            shownFrame=display.get("shown_frame", 0),
            presets=presets_for(modality=display.get("modality") or "", window=display.get("window")),
        )
    elif image.tiles:
        config["tiles"] = default_storage.url(image.tiles)
    return json.dumps(config, separators=(",", ":"))


@register.filter
def viewer_uses(images, kind: str) -> bool:
    """Whether one of ``images`` needs the ``kind`` ("dicom" or "tiles") viewer library."""
    return any(bool(image.web_dicom if kind == "dicom" else image.tiles) for image in images)
