"""The image viewer's state as the workspace form posts it (``viewer_state``, JSON written by static/js/viewer.js)."""

import json
import math

from annotation.services import AnnotationError

MAX_CHARACTERS = 8192
# Per image: what the viewer showed last. Anything else a client sends is dropped, never stored.
FIELDS = {
    "kind": str,
    "zoom": (int, float),
    "frame": int,
    "frames_seen": int,
    "window": list,
    "preset": str,
    "invert": bool,
}


def parse_viewer_state(raw: str) -> dict | None:
    """``{"images": {"<image id>": {...}}}`` from the posted text; None when nothing was posted.

    Raises :class:`AnnotationError` naming the field for text that is not that shape."""
    if not raw:
        return None
    if len(raw) > MAX_CHARACTERS:
        raise AnnotationError(f"viewer_state: longer than {MAX_CHARACTERS} characters")
    try:
        value = json.loads(raw)
    except ValueError:
        raise AnnotationError("viewer_state: not JSON") from None
    if not isinstance(value, dict) or not isinstance(value.get("images"), dict):
        raise AnnotationError('viewer_state: expected {"images": {"<image id>": {...}}}')
    images = {}
    for key, entry in value["images"].items():
        if not (key.isascii() and key.isdigit()) or not isinstance(entry, dict):
            raise AnnotationError(f"viewer_state: image {key!r} is not an image id with an object")
        images[key] = {name: entry[name] for name, kind in FIELDS.items() if _fits(entry.get(name), kind)}
        window = images[key].get("window")
        if window is not None and not (len(window) == 2 and all(_fits(v, (int, float)) for v in window)):
            raise AnnotationError(f"viewer_state: image {key}: window must be [centre, width]")
    return {"images": images}


def _fits(value, kind) -> bool:
    if value is None or (isinstance(value, bool) and kind is not bool):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return isinstance(value, kind)
