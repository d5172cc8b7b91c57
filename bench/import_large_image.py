"""Benchmark: peak memory and time of importing one large, highly compressible 16-bit greyscale PNG.

Builds a 7,700 x 7,700 16-bit PNG (about 59 million pixels, just under IMAGE_MAX_PIXELS; a smooth gradient that
compresses to ~130 KB) with numpy, puts it in a one-case bundle (a directory and a .zip), migrates a scratch
SQLite database, then imports each bundle with ``manage.py import_bundle`` in a subprocess of its own and prints
that subprocess's peak RSS (``ru_maxrss`` from ``os.wait4``) and wall-clock time. A fresh scratch folder is used
every run; the shared database is never touched.

    .venv/bin/python bench/import_large_image.py [--edge 7700]
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


def write_bundle(root: Path, edge: int) -> Path:
    (root / "images").mkdir(parents=True)
    large_png(root / "images" / "large.png", edge)
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
        "images": [{"file": "images/large.png", "source": "generated", "license": "CC0-1.0"}],
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
    edge = parser.parse_args().edge
    work = Path(tempfile.mkdtemp(prefix="imcbench-large-image-"))
    bundle = write_bundle(work / "bundle", edge)
    archive = Path(shutil.make_archive(str(work / "bundle"), "zip", root_dir=bundle))
    png_kib = (bundle / "images" / "large.png").stat().st_size / 1024
    print(f"{edge} x {edge} 16-bit PNG: {png_kib:.0f} KiB; zipped bundle {archive.stat().st_size / 1024:.0f} KiB")
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
