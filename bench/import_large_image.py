"""Benchmark: peak memory and time of importing one large image.

Builds, with numpy, either a 7,700 x 7,700 16-bit greyscale PNG (about 59 million pixels; a smooth gradient that
compresses to ~130 KB; shrunk to its derivative, no tiles) or, with ``--photo``, an 8-bit colour JPEG of
``--edge`` squared pixels (smooth colour gradients with fine noise, like a slide or dermoscopy photograph; cut
into Deep Zoom tiles: 10,000 makes the 100 million pixels IMAGE_MAX_PIXELS allows). It puts the image in a
one-case bundle (a directory and a .zip), migrates a scratch SQLite database, then imports each bundle with
``manage.py import_bundle`` in a subprocess of its own and prints that subprocess's peak RSS (``ru_maxrss`` from
``os.wait4``) and wall-clock time. A fresh scratch folder is used every run; the shared database is never touched.

    .venv/bin/python bench/import_large_image.py [--edge 7700] [--photo]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def large_png(path: Path, edge: int) -> None:
    row = np.linspace(0, 65535, edge, dtype=np.float64).astype(np.uint16)
    Image.fromarray(np.broadcast_to(row, (edge, edge)).copy()).save(path, "PNG", optimize=True)


def large_photo(path: Path, edge: int) -> None:
    rng = np.random.default_rng(7)
    pixels = np.empty((edge, edge, 3), dtype=np.uint8)
    x = np.arange(edge, dtype=np.float32)
    for top in range(0, edge, 1000):  # in bands, so the generator's floats stay small
        y = np.arange(top, min(edge, top + 1000), dtype=np.float32)[:, None]
        for channel, phase in enumerate((0.0, 1.3, 2.6)):
            band = 128 + 90 * np.sin(x / 900 + phase) * np.cos(y / 700 - phase) + rng.normal(0, 6, (len(y), edge))
            pixels[top : top + len(y), :, channel] = np.clip(band, 0, 255)
    Image.fromarray(pixels).save(path, "JPEG", quality=88)


def write_bundle(root: Path, edge: int, photo: bool) -> Path:
    (root / "images").mkdir(parents=True)
    name = "images/large.jpg" if photo else "images/large.png"
    (large_photo if photo else large_png)(root / name, edge)
    manifest = {
        "format": "imcbench-bundle",
        "version": 1,
        "name": "Large image",
        "dimensions": ["safety"],
        "models": [{"id": "model-a", "family": "Test"}],
    }
    case = {
        "id": "case-large",
        "title": "Large radiograph",
        "tags": {"malignant": False, "rare": False},
        "images": [{"file": name, "source": "generated", "license": "CC0-1.0"}],
        "profile": {"age": 50, "sex": "female"},
    }
    conversation = {
        "id": "conv-large",
        "case": "case-large",
        "model": "model-a",
        "condition": "full",
        "turns": [{"role": "patient", "content": "What does this show?"}],
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    (root / "cases.jsonl").write_text(json.dumps(case) + "\n")
    (root / "conversations.jsonl").write_text(json.dumps(conversation) + "\n")
    return root


def run(command: list[str], env: dict) -> tuple[float, float, int]:
    """Run ``command``; return its wall-clock seconds, peak RSS in MiB and exit status."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if process.returncode:
        print(output)
    return seconds, usage.ru_maxrss / 1024, process.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edge", type=int, default=7700, help="width and height in pixels (default 7700)")
    parser.add_argument("--photo", action="store_true", help="an 8-bit colour JPEG, cut into Deep Zoom tiles")
    options = parser.parse_args()
    edge = options.edge
    work = Path(tempfile.mkdtemp(prefix="imcbench-large-image-"))
    bundle = write_bundle(work / "bundle", edge, options.photo)
    archive = Path(shutil.make_archive(str(work / "bundle"), "zip", root_dir=bundle))
    image = next((bundle / "images").iterdir())
    kind = "8-bit colour JPEG" if options.photo else "16-bit PNG"
    print(
        f"{edge} x {edge} {kind} ({edge * edge / 1e6:.0f} million pixels): {image.stat().st_size / 1024:.0f} KiB; "
        f"zipped bundle {archive.stat().st_size / 1024:.0f} KiB"
    )
    manage = [sys.executable, str(ROOT / "manage.py")]
    for label, path in (("directory", bundle), ("zip", archive)):
        env = os.environ | {
            "IMCBENCH_DATA_DIR": str(work / f"data-{label}"),
            "MEDIA_ROOT": str(work / f"media-{label}"),
            "DJANGO_SETTINGS_MODULE": "imcbench_site.settings",
        }
        env.pop("DATABASE_URL", None)
        run([*manage, "migrate", "--verbosity", "0"], env)
        seconds, peak, status = run([*manage, "import_bundle", str(path)], env)
        result = "imported" if status == 0 else f"failed (exit {status})"
        print(f"import from a {label:<9} {seconds:6.1f} s   peak RSS {peak:7.1f} MiB   {result}")
    print(f"(scratch folder {work})")


if __name__ == "__main__":
    main()
