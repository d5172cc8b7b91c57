"""Benchmark: time to the first rendered frame of the clinician's image viewer, and the bytes it transferred.

Three images, each the only image of its case, imported into a scratch site (a fresh data folder and SQLite
database; the shared one is never touched):

* the demo's 512x512 CT (pydicom-data ``eCT_Supplemental.dcm``, 2 frames), drawn by Cornerstone3D;
* the demo's multi-frame ultrasound: pydicom's 30-frame echocardiogram cine ``examples_ybr_color.dcm``, drawn by
  Cornerstone3D;
* a 50-megapixel photograph (8,660 x 5,774 JPEG, generated: smooth colour gradients with fine noise), shown as
  Deep Zoom tiles by OpenSeadragon.

It serves the site with ``manage.py runserver`` on a loopback port (DEBUG, static files by Django, uncompressed;
with ``--deployed``, DEBUG off and the static files collected into a scratch folder and served by WhiteNoise
from its compressed manifest storage, gzip and, where the brotli package is installed, Brotli, as in production;
only the HTTPS settings are relaxed for plain loopback HTTP), signs a
clinician in with Debian's Chromium (Playwright) and, for each image, opens its workspace page in a fresh browser
context (empty cache) and reads the viewer's ``data-rendered-at`` (``performance.now()`` when the first complete
view was drawn: the first DICOM frame, or every tile of OpenSeadragon's first view) and the transfer sizes of
every resource the page loaded (Resource Timing ``transferSize``). Each image is opened ``--runs`` times in a new
context ("cold": nothing cached) and once more in that context ("warm": the browser's cache and V8's code cache,
as for a clinician's second item); the median and the worst of each are printed, with the median time the
derivative (the PNG/JPEG shown until the library draws, and without JavaScript) had arrived, DOMContentLoaded
(when the deferred scripts have run), the median time every module of the Cornerstone bundle had run ("library",
its ``cornerstone:evaluated`` performance mark) and the requests answered by the first frame. All times are ms
from navigation start.
Goal: under 1 s each.

    .venv/bin/python bench/viewer.py [--runs 5] [--port 8791] [--deployed]
"""

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FACTORY_PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")

DEPLOYED_ENV = {  # production's settings but for HTTPS, which a loopback bench cannot serve
    "DEBUG": "0",
    "SECRET_KEY": "bench-only-secret-key-for-a-scratch-site-on-loopback",
    "ALLOWED_HOSTS": "127.0.0.1",
    "SESSION_COOKIE_SECURE": "0",
    "CSRF_COOKIE_SECURE": "0",
    "SECURE_SSL_REDIRECT": "0",
    "SECURE_HSTS_SECONDS": "0",
}

CASES = {
    "ct-512": ("images/ct.dcm", "CT", "512x512 CT (eCT_Supplemental, 2 frames)"),
    "us-cine": ("images/cine.dcm", "ultrasound", "multi-frame ultrasound (examples_ybr_color, 30 frames)"),
    "photo-50mp": ("images/large.jpg", "dermoscopy", "50 MP photograph (8660x5774 JPEG), Deep Zoom"),
}


def large_photo(width: int = 8660, height: int = 5774) -> bytes:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rng = np.random.default_rng(7)
    channels = [
        128 + 90 * np.sin(x / 900 + phase) * np.cos(y / 700 - phase) + rng.normal(0, 6, (height, width))
        for phase in (0.0, 1.3, 2.6)
    ]
    pixels = np.clip(np.stack(channels, axis=-1), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=88)
    return out.getvalue()


def write_bundle(root: Path) -> Path:
    from bundles.demo.builder import IMAGES, read_image_bytes

    (root / "images").mkdir(parents=True)
    (root / "images" / "ct.dcm").write_bytes(read_image_bytes(IMAGES["ct_perfusion"]))
    (root / "images" / "cine.dcm").write_bytes(read_image_bytes(IMAGES["echo_us"]))
    (root / "images" / "large.jpg").write_bytes(large_photo())
    manifest = {
        "format": "imcbench-bundle",
        "version": 1,
        "name": "Viewer bench",
        "dimensions": ["safety"],
        "models": [{"id": "model-a", "family": "Test"}],
    }
    # The echo's pixels carry text; the import takes it on the review the demo records for it.
    reviews = {"images/cine.dcm": {"pixel_review": IMAGES["echo_us"].pixel_review._asdict()}}
    cases, conversations = [], []
    for key, (file, modality, title) in CASES.items():
        image = {"file": file, "modality": modality, "source": "bench", "license": "CC0-1.0", **reviews.get(file, {})}
        cases.append(
            {
                "id": key,
                "title": title,
                "tags": {"malignant": False, "rare": False},
                "images": [image],
                "profile": {"age": 50, "sex": "female"},
            }
        )
        conversations.append(
            {
                "id": f"conv-{key}",
                "case": key,
                "model": "model-a",
                "condition": "full",
                "turns": [{"role": "patient", "content": "What does this show?"}],
            }
        )
    (root / "manifest.json").write_text(json.dumps(manifest))
    (root / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases))
    (root / "conversations.jsonl").write_text("".join(json.dumps(c) + "\n" for c in conversations))
    return root


def prepare_site(bundle: Path) -> dict[str, int]:
    """Migrate, import and hand one clinician every conversation; return the assignment id per case."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from annotation.models import Conversation, Rubric
    from annotation.services import claim_next, create_campaign
    from bundles.importer import import_bundle
    from tests.factories import UserFactory

    started = time.perf_counter()
    import_bundle(path=bundle)
    print(f"import of the three images: {time.perf_counter() - started:.1f} s")
    clinician = UserFactory(username="bench-clinician", roles=["clinician"])
    assignments = {}
    for key in CASES:
        campaign = create_campaign(
            key=f"bench-{key}",
            name=key,
            rubric=Rubric.objects.get(is_default=True),
            conversations=Conversation.objects.filter(case__key=key),
            clinicians=[clinician],
            overlap=1,
        )
        assignments[key] = claim_next(clinician=clinician, campaign=campaign).pk
    return assignments


def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"the server at {url} did not answer within {seconds:.0f} s")


def first_frame(page) -> tuple[float, float, float, list, float | None]:
    """(ms until the library drew its first view, ms until the derivative <img> had arrived, ms to
    DOMContentLoaded, [(resource, bytes transferred, ms when it had arrived)], ms when every module of the
    Cornerstone bundle had run or None) of a loaded page."""
    item = page.locator('.viewer-item[data-image-index="0"][data-rendered-at]')
    item.wait_for(timeout=30000)
    rendered = float(item.get_attribute("data-rendered-at"))
    derivative = page.evaluate(
        "performance.getEntriesByName(document.querySelector('.viewer-item img').src)[0].responseEnd"
    )
    ready = page.evaluate("performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd")
    resources = page.evaluate(
        "performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))"
        ".map(e => [e.name, e.transferSize, e.responseEnd])"
    )
    library = page.evaluate("(performance.getEntriesByName('cornerstone:evaluated')[0] || {}).startTime || null")
    return rendered, derivative, ready, resources, library


def measure(base: str, assignments: dict[str, int], runs: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"], headless=True
        )
        login = browser.new_context()
        page = login.new_page()
        page.goto(f"{base}/login/")
        page.get_by_label("Username").fill("bench-clinician")
        page.get_by_label("Password").fill(FACTORY_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{base}/")
        cookies = login.cookies()
        login.close()
        print(
            f"{'image':<58} {'load':<5} {'drawn: median':>13} {'worst':>6} {'derivative':>10} {'DOM ready':>9} "
            f"{'library':>7} {'transferred':>11} {'requests':>8}"
        )
        for key, assignment in assignments.items():
            runs_by_load = {"cold": [], "warm": []}
            for _ in range(runs):
                context = browser.new_context(viewport={"width": 1440, "height": 900})
                context.add_cookies(cookies)
                for load in ("cold", "warm"):  # an empty cache, then the same page again (cache and code cache)
                    page = context.new_page()
                    page.goto(f"{base}/work/item/{assignment}/")
                    runs_by_load[load].append(first_frame(page))
                    page.close()
                context.close()
            for load, measured in runs_by_load.items():
                times = [m[0] for m in measured]
                derivative = statistics.median(m[1] for m in measured)
                ready = statistics.median(m[2] for m in measured)
                total = statistics.median(sum(size for _, size, _ in m[3]) for m in measured)
                # the requests the page had answered by its first frame, the page itself included
                requests = statistics.median(sum(1 for _, _, end in m[3] if end <= m[0]) for m in measured)
                libraries = [m[4] for m in measured if m[4] is not None]
                library = f"{statistics.median(libraries):>7.0f}" if libraries else f"{'-':>7}"
                print(
                    f"{CASES[key][2]:<58} {load:<5} {statistics.median(times):>13.0f} {max(times):>6.0f} "
                    f"{derivative:>10.0f} {ready:>9.0f} {library} {total / 1e6:>8.2f} MB {requests:>8.0f}"
                )
            largest = sorted(runs_by_load["cold"][0][3], key=lambda entry: -entry[1])[:3]
            print(
                "    largest:",
                ", ".join(f"{name.rsplit('/', 1)[-1][:24]} {size / 1e6:.2f} MB" for name, size, _ in largest),
            )
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="page loads per image (default 5)")
    parser.add_argument("--port", type=int, default=8791, help="loopback port of the scratch server")
    parser.add_argument("--deployed", action="store_true", help="DEBUG off, compressed static files (WhiteNoise)")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="imcbench-viewer-bench-"))
    os.environ.update(IMCBENCH_DATA_DIR=str(work / "data"), DJANGO_SETTINGS_MODULE="imcbench_site.settings")
    if options.deployed:
        os.environ.update(DEPLOYED_ENV, STATIC_ROOT=str(work / "static"))
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("CELERY_BROKER_URL", None)
    (work / "data").mkdir()
    assignments = prepare_site(write_bundle(work / "bundle"))
    if options.deployed:
        from django.core.management import call_command

        call_command("collectstatic", interactive=False, verbosity=0)
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{options.port}", "--noreload"],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{options.port}"
        wait_for(f"{base}/login/")
        measure(base, assignments, options.runs)
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"scratch folder: {work}")


if __name__ == "__main__":
    main()
