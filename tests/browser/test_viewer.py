"""The image viewer in Chromium on three of the demo's DICOM images (bundles/demo/data/images.toml): its CT slice
(pydicom's CT_small), its liver MR (pydicom-data's MR-SIEMENS-DICOM-WithOverlays) and its 30-frame ultrasound cine
(pydicom's examples_ybr_color): dragging and keys change window/level in the pixels drawn, presets apply their
window, the slider and keys move frames with the model's frame marked, the state is saved with the draft, and the
console holds no error or CSP violation, at 1440×900 and 1024×768."""

import io

import numpy as np
import pytest
from axe_playwright_python.sync_playwright import Axe
from PIL import Image as PILImage
from playwright.sync_api import expect

from annotation.models import Annotation, Conversation
from annotation.services import claim_next
from bundles import imaging
from bundles.demo.builder import IMAGES, read_image_bytes
from bundles.importer import import_bundle
from tests.browser.conftest import log_in
from tests.bundle_files import base_records, write_bundle
from tests.conftest import PASSWORD
from tests.factories import UserFactory, pilot_campaign

SERIES = {  # the file in the test bundle: the demo's image and a caption
    "images/ct.dcm": ("thoracic_ct", "Axial CT slice through a thoracic vertebra"),
    "images/mr.dcm": ("liver_mr", "Axial T1 MR of the upper abdomen"),
    "images/cine.dcm": ("echo_us", "Apical four-chamber echocardiogram, 30 frames"),
}


@pytest.fixture
def assignment(tmp_path):
    records = base_records()
    records["cases"][1]["images"] = [
        {
            "file": name,
            "modality": IMAGES[key].modality,
            "source": IMAGES[key].source,
            "license": IMAGES[key].license,
            "caption": caption,
            # the echo and the MR are imported on the pixel review the demo records for them
            **({"pixel_review": IMAGES[key].pixel_review._asdict()} if IMAGES[key].pixel_review else {}),
        }
        for name, (key, caption) in SERIES.items()
    ]
    images = {name: read_image_bytes(IMAGES[key]) for name, (key, _) in SERIES.items()}
    import_bundle(path=write_bundle(tmp_path / "bundle", records, images=images))
    carmen = UserFactory(username="carmen", roles=["clinician"])
    campaign = pilot_campaign(
        clinicians=[carmen], conversations=Conversation.objects.filter(case__key="case-0002", condition="full")
    )
    return claim_next(clinician=carmen, campaign=campaign)


def region(page) -> np.ndarray:
    """The pixels of the middle half of the visible image's canvas, as the screen shows them."""
    shot = page.locator(".viewer-item:not(.hidden) .viewer-canvas").screenshot()
    pixels = np.asarray(PILImage.open(io.BytesIO(shot)).convert("L"), dtype=np.float64)
    h, w = pixels.shape
    return pixels[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4]


def voi(page) -> tuple[int, int]:
    text = page.locator("[data-viewer-voi]").text_content()  # "W 1500 · L -600"
    width, level = (int(part.split()[1]) for part in text.split("·"))
    return width, level


def open_item(page, live_server, assignment, size):
    page.set_viewport_size(size)
    page.violations = []
    page.on("console", lambda m: "Content Security Policy" in m.text and page.violations.append(m.text))
    log_in(page, live_server, "carmen", PASSWORD)
    page.goto(f"{live_server.url}/work/item/{assignment.pk}/")
    expect(page.locator('.viewer-item[data-image-index="0"]')).to_have_attribute("data-rendered", "true")


@pytest.mark.parametrize("size", [{"width": 1440, "height": 900}, {"width": 1024, "height": 768}], ids=["1440", "1024"])
@pytest.mark.django_db(transaction=True)
def test_ct_windows_by_preset_drag_and_keys(live_server, page, screenshot, assignment, size):
    open_item(page, live_server, assignment, size)
    label = f"{size['width']}x{size['height']}"
    presets = page.locator("[data-viewer-preset] option").all_text_contents()
    assert [p.split(" (")[0] for p in presets][:5] == ["Lung", "Mediastinum", "Bone", "Brain", "Abdomen"]
    assert presets[-1].startswith("Full range")

    page.locator("[data-viewer-preset]").select_option(label=presets[0])
    expect(page.locator("[data-viewer-voi]")).to_have_text("W 1500 · L -600")
    lung = region(page)
    screenshot(f"viewer-ct-lung-{label}")
    page.locator("[data-viewer-preset]").select_option(label=presets[2])
    expect(page.locator("[data-viewer-voi]")).to_have_text("W 1800 · L 400")
    bone = region(page)
    screenshot(f"viewer-ct-bone-{label}")
    assert lung.mean() > bone.mean() + 20  # soft tissue is bright in lung window, dark in bone window

    box = page.locator(".viewer-item:not(.hidden) .viewer-canvas").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 150, y + 60, steps=6)  # narrower window, higher level
    page.mouse.up()
    width, level = voi(page)
    assert width < 1800 and level > 400
    dragged = region(page)
    assert np.abs(dragged - bone).mean() > 5
    assert page.locator("[data-viewer-preset]").input_value() == ""  # "Custom"

    page.keyboard.press("]")
    assert voi(page)[0] > width
    page.keyboard.press("p")
    expect(page.locator("[data-viewer-voi]")).to_have_text("W 80 · L 40")  # the preset after the last one chosen
    before = region(page)
    page.keyboard.press("i")
    expect(page.locator('[data-viewer-action="invert"]')).to_have_attribute("aria-pressed", "true")
    assert np.corrcoef(region(page).ravel(), before.ravel())[0, 1] < -0.8  # dark became light, pixel by pixel
    page.keyboard.press("x")
    expect(page.locator('[data-viewer-action="invert"]')).to_have_attribute("aria-pressed", "false")

    page.keyboard.press("4")  # score safety: the autosave carries the viewer state
    expect(page.locator("#save-status")).to_have_attribute("data-version", "1")
    expect(page.locator("#save-status")).to_contain_text("Saved")
    state = Annotation.objects.get(annotator__username="carmen").viewer_state
    ct = state["images"][str(assignment.conversation.case.images.get(position=0).pk)]
    assert ct["kind"] == "dicom" and ct["frame"] == 1 and ct["preset"] == "Lung"
    assert "active_seconds" in state
    assert page.console_errors == [] and page.violations == []


@pytest.mark.parametrize("size", [{"width": 1440, "height": 900}, {"width": 1024, "height": 768}], ids=["1440", "1024"])
@pytest.mark.django_db(transaction=True)
def test_mr_and_ultrasound_frames_by_slider_and_keys(live_server, page, screenshot, assignment, size):
    open_item(page, live_server, assignment, size)
    label = f"{size['width']}x{size['height']}"
    page.locator('[data-show-image="1"]').click()
    expect(page.locator('.viewer-item[data-image-index="1"]')).to_have_attribute("data-rendered", "true")
    assert page.locator("[data-viewer-preset] option").first.text_content() == "File's own"
    expect(page.locator("[data-viewer-voi]")).to_have_text("W 790 · L 450")
    expect(page.locator("[data-viewer-frames]")).to_be_hidden()
    before = region(page)
    box = page.locator(".viewer-item:not(.hidden) .viewer-canvas").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 120, y, steps=4)  # wider window: less contrast
    page.mouse.up()
    assert voi(page)[0] > 790
    after = region(page)
    assert after.std() < before.std()
    screenshot(f"viewer-mr-{label}")

    page.locator('[data-show-image="2"]').click()
    cine = page.locator('.viewer-item[data-image-index="2"]')
    expect(cine).to_have_attribute("data-rendered", "true")
    frames = page.locator("[data-viewer-frames]")
    expect(frames).to_be_visible()
    expect(frames.locator("[data-viewer-frame-label]")).to_have_text("16 / 30")
    expect(frames.locator("[data-viewer-shown]")).to_have_text("The model was shown this frame")
    shown = region(page)
    page.keyboard.press(".")
    expect(cine).to_have_attribute("data-frame", "17")
    expect(frames.locator("[data-viewer-frame-label]")).to_have_text("17 / 30")
    expect(frames.locator("[data-viewer-shown]")).to_have_text("The model was shown frame 16")
    page.keyboard.press(",")
    page.keyboard.press(",")
    expect(cine).to_have_attribute("data-frame", "15")
    page.locator("[data-viewer-frame]").fill("3")
    expect(cine).to_have_attribute("data-frame", "3")
    assert np.abs(region(page) - shown).mean() > 1  # the heart moved
    screenshot(f"viewer-us-frame3-{label}")
    page.keyboard.press("m")
    expect(cine).to_have_attribute("data-frame", "16")

    results = Axe().run(page)
    serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == [], [(v["id"], v["nodes"][0]["target"]) for v in serious]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.console_errors == [] and page.violations == []


@pytest.mark.django_db(transaction=True)
def test_uncompressed_frames_are_decoded_in_the_page_and_compressed_ones_by_the_worker(live_server, page, assignment):
    open_item(page, live_server, assignment, {"width": 1440, "height": 900})
    for index in (1, 2):  # the other images are loaded once the first is drawn
        page.locator(f'.viewer-item[data-image-index="{index}"][data-frame]').wait_for(state="attached")
    loaded = "performance.getEntriesByType('resource').map(e => e.name)"
    assert not [url for url in page.evaluate(loaded) if "decodeImageFrameWorker" in url]  # three images, no worker
    # An RLE frame (2x2, 8-bit: one segment holding a literal run of four values), which the studio never serves,
    # still goes to the loader's worker, started for it; an Explicit VR Little Endian one is decoded in the page.
    decoded = page.evaluate("""async () => {
      const manager = window.Cornerstone.core.getWebWorkerManager();
      const frame = { rows: 2, columns: 2, bitsAllocated: 8, bitsStored: 8, samplesPerPixel: 1,
                      pixelRepresentation: 0, planarConfiguration: 0, photometricInterpretation: "MONOCHROME2" };
      const rle = new Uint8Array(69);
      new DataView(rle.buffer).setUint32(0, 1, true);
      new DataView(rle.buffer).setUint32(4, 64, true);
      rle.set([3, 10, 20, 30, 40], 64);
      const decode = (syntax, pixelData) => manager.executeTask("dicomImageLoader", "decodeTask", {
        imageFrame: { ...frame }, transferSyntax: syntax, pixelData: pixelData,
        options: { preScale: { enabled: false } }, decodeConfig: {} });
      const plain = await decode("1.2.840.10008.1.2.1", new Uint8Array([1, 2, 3, 4]));
      const runs = await decode("1.2.840.10008.1.2.5", rle);
      return [Array.from(plain.pixelData), Array.from(runs.pixelData)];
    }""")
    assert decoded == [[1, 2, 3, 4], [10, 20, 30, 40]]
    assert [url for url in page.evaluate(loaded) if "decodeImageFrameWorker" in url]
    assert page.console_errors == [] and page.violations == []


@pytest.mark.django_db(transaction=True)
def test_full_screen_redraws_the_dicom_at_the_screens_size(live_server, page, assignment):
    open_item(page, live_server, assignment, {"width": 1024, "height": 768})
    small = page.locator(".viewer-item:not(.hidden) .viewer-canvas canvas").bounding_box()
    page.keyboard.press("f")
    for _ in range(50):
        if page.evaluate("document.fullscreenElement !== null"):
            break
        page.wait_for_timeout(100)
    page.wait_for_timeout(300)  # one frame for the resize
    large = page.locator(".viewer-item:not(.hidden) .viewer-canvas canvas").bounding_box()
    assert large["width"] > small["width"] * 2
    assert region(page).mean() > 5  # still drawn
    page.keyboard.press("f")
    assert page.console_errors == [] and page.violations == []


@pytest.mark.django_db(transaction=True)
def test_a_large_image_is_drawn_from_deep_zoom_tiles(live_server, page, screenshot, tmp_path, monkeypatch):
    monkeypatch.setattr(imaging, "TILE_MIN_PIXELS", 1)  # the fixture's small photographs stand in for large ones
    import_bundle(path=write_bundle(tmp_path / "bundle"))
    carmen = UserFactory(username="carmen", roles=["clinician"])
    campaign = pilot_campaign(
        clinicians=[carmen], conversations=Conversation.objects.filter(case__key="case-0001", condition="full")
    )
    item = claim_next(clinician=carmen, campaign=campaign)
    page.violations = []
    page.on("console", lambda m: "Content Security Policy" in m.text and page.violations.append(m.text))
    log_in(page, live_server, "carmen", PASSWORD)
    page.goto(f"{live_server.url}/work/item/{item.pk}/")
    tiles = page.locator('.viewer-item[data-image-index="0"]')
    expect(tiles).to_have_attribute("data-rendered", "true")
    assert abs(region(page).mean() - 114) < 3  # the fixture's solid (200, 80, 60) in grey, not the black stage
    before = page.evaluate("document.querySelector('[data-viewer]').viewerScale()")
    page.get_by_role("button", name="Zoom in").click()
    page.wait_for_timeout(600)  # OpenSeadragon animates the zoom
    assert page.evaluate("document.querySelector('[data-viewer]').viewerScale()") > before
    screenshot("viewer-deep-zoom-1440x900")
    assert page.console_errors == [] and page.violations == []
