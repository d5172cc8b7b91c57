"""Benchmark: importing a chat log of 10,000 OpenAI-format conversations embedding 2,000 distinct small PNGs.

Each image is its own case and appears in 5 conversations (as a data URL, so the log holds 10,000 copies of the
2,000 images); the import stores each once. Prints the log's size, the import's wall time and peak RSS.
Uses a scratch SQLite database and media folder unless DATABASE_URL is set.

    .venv/bin/python bench/import_chat.py [--conversations 10000 --images 2000]
"""

import argparse
import base64
import io
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def write_log(path: Path, *, conversations: int, images: int) -> None:
    from PIL import Image

    urls = []
    for index in range(images):
        buffer = io.BytesIO()
        Image.new("RGB", (32, 24), (index % 256, index // 256 % 256, 128)).save(buffer, format="PNG")
        urls.append("data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode())
    with path.open("w") as handle:
        for number in range(conversations):
            image = number % images
            line = {
                "id": f"bench-chat-{number}",
                "case": f"bench-case-{image}",
                "model": f"bench-model-{number % 4}",
                "messages": [
                    {"role": "system", "content": "You are a careful clinical assistant."},
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": f"Question {number}: what is this lesion?"},
                            {"type": "image_url", "image_url": {"url": urls[image]}},
                        ],
                    },
                    {"role": "assistant", "content": "It may be a benign naevus; please see a dermatologist. " * 3},
                    {"role": "user", "content": "Thank you. How soon?"},
                    {"role": "assistant", "content": "Within a few weeks."},
                ],
            }
            handle.write(json.dumps(line) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--images", type=int, default=2_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="imcbench-bench-"))
    os.environ.setdefault("IMCBENCH_DATA_DIR", str(work / "data"))
    os.environ["MEDIA_ROOT"] = str(work / "media")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imcbench_site.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from bundles.adapters import import_openai_chat
    from bundles.adapters.mapping import load_mapping

    call_command("migrate", verbosity=0)
    log = work / "chat.jsonl"
    write_log(log, conversations=args.conversations, images=args.images)
    started = time.perf_counter()
    report = import_openai_chat(path=log, mapping=load_mapping())
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(report.summary())
    print(f"log {log.stat().st_size / 1e6:.1f} MB, {args.conversations:,} conversations, {args.images:,} images")
    print(f"import: {elapsed:.1f} s wall, peak RSS {peak_mb:.0f} MB (goal: < 60 s, < 500 MB)")


if __name__ == "__main__":
    main()
