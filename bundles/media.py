"""Content-addressed media files, written so that a failed write (a full disk, a crash) never leaves a partial
file under a final name, and never reused unless the stored bytes still match."""

import hashlib
import os
import tempfile
from pathlib import Path

from django.core.files.storage import default_storage

CHUNK_BYTES = 1 << 20


def store_file(*, name: str, data: bytes) -> bool:
    """Make the media file ``name`` hold exactly ``data``; return True when this call created it.

    A file already there is kept when its SHA-256 matches ``data``; otherwise (truncated by an earlier failed
    write, or damaged) it is replaced atomically by the right bytes.
    """
    target = Path(default_storage.path(name))
    existed = target.is_file()
    if existed and _sha256_of(target) == hashlib.sha256(data).hexdigest():
        return False
    write_atomically(target=target, data=data)
    return not existed


def write_atomically(*, target: Path, data: bytes) -> None:
    """Write to a temporary file beside ``target``, fsync it, then rename it over ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            for start in range(0, len(data), CHUNK_BYTES):
                _write_chunk(handle, data[start : start + CHUNK_BYTES])
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, default_storage.file_permissions_mode or 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_directory(target.parent)


def _write_chunk(handle, chunk: bytes) -> None:
    handle.write(chunk)


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def viewer_files(*, processed, store) -> dict:
    """Store what the browser's viewer reads besides the derivative, through ``store(name, data) -> name``, and
    return the image's ``web_dicom``, ``tiles`` and ``display`` fields: a DICOM original's de-identified copy
    of every frame, or a large image's Deep Zoom pyramid (``images/tiles/<sha>.dzi`` and ``<sha>_files/``)."""
    shard, checksum = processed.checksum[:2], processed.checksum
    fields = {"web_dicom": "", "tiles": "", "display": {}}
    if processed.dicom is not None:
        copy = processed.dicom
        fields["web_dicom"] = store(f"images/dicom/{shard}/{checksum}.dcm", copy.data)
        fields["display"] = {
            "kind": "dicom",
            "frames": copy.frames,
            "shown_frame": copy.shown_frame,
            "window": list(copy.window) if copy.window else None,
            "burned_in_annotation": copy.burned_in_annotation,
            "burned_in_risk": list(copy.burned_in_risk),
            "modality": processed.modality_hint or "",
        }
    elif processed.tiles is not None:
        base = f"images/tiles/{shard}/{checksum}"
        for name, data in processed.tiles.tiles.items():
            store(f"{base}_files/{name}", data)
        fields["tiles"] = store(f"{base}.dzi", processed.tiles.descriptor)
        fields["display"] = {"kind": "tiles", "width": processed.tiles.width, "height": processed.tiles.height}
    return fields
