"""What the image viewer reads: the de-identified DICOM copy and Deep Zoom tiles go to those who may see the case,
and no byte a clinician is served carries the original's identifying values."""

import html
import io
import json
import re

import pydicom
import pytest
from pydicom.data import get_testdata_file

from annotation import services
from annotation.models import Conversation, Image, Rubric
from bundles import imaging
from bundles.importer import import_bundle
from tests.bundle_files import write_bundle

pytestmark = pytest.mark.django_db

IDENTITY = {
    "PatientName": "Quintessa^Zelda",
    "PatientID": "PID-7731-QX",
    "PatientBirthDate": "19390417",
    "AccessionNumber": "ACC-55519",
    "InstitutionName": "St Quirinus Hospital",
    "ReferringPhysicianName": "Okonkwo^Ferdinand",
}
PRIVATE_VALUE = "PRIVATE-SECRET-991"


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def identified_ct() -> bytes:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    for keyword, value in IDENTITY.items():
        setattr(ds, keyword, value)
    ds.private_block(0x0029, "HOSPITAL PRIVATE", create=True).add_new(0x10, "LO", PRIVATE_VALUE)
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


def claim_case(case_key: str, clinicians):
    campaign = services.create_campaign(
        key=f"viewer-{case_key}",
        name="Viewer",
        rubric=Rubric.objects.get(is_default=True),
        conversations=Conversation.objects.filter(case__key=case_key, condition="full"),
        clinicians=clinicians,
        overlap=1,
    )
    return services.claim_next(clinician=clinicians[0], campaign=campaign)


def same_origin_urls(page: str) -> set[str]:
    urls = set(re.findall(r'(?:src|href)="(/[^"]*)"', page))
    for config in re.findall(r'data-config="([^"]+)"', page):
        values = json.loads(html.unescape(config))
        urls.update(values[key] for key in ("dicom", "tiles") if key in values)
    return {url for url in urls if not url.startswith("/logout")}


def test_no_byte_served_to_the_clinician_carries_the_originals_identity(client, tmp_path, carmen):
    import_bundle(path=write_bundle(tmp_path / "bundle", images={"images/ct.dcm": identified_ct()}))
    assignment = claim_case("case-0002", [carmen])
    client.force_login(carmen)
    served = []
    pages = ["/", "/work/", f"/work/item/{assignment.pk}/"]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        served.append(body(response))
    workspace = served[-1].decode()
    head = workspace.split("</head>")[0]  # the DICOM viewer's bundle is fetched from the head, while the page arrives
    assert re.search(r'<link rel="modulepreload" href="[^"]*/vendor/cornerstone/cornerstone\.js">', head)
    assets = same_origin_urls(workspace)
    image = Image.objects.get(case__key="case-0002")
    # ... and so is the image's de-identified copy, as the loader will request it (a same-origin fetch)
    assert f'<link rel="preload" href="{image.web_dicom.url}" as="fetch" crossorigin="anonymous">' in head
    assert image.web_dicom.url in assets and image.derivative.url in assets
    assert f"/media/{image.original.name}" not in workspace
    for url in sorted(assets):
        response = client.get(url)
        assert response.status_code == 200, url
        served.append(body(response))
    everything = b"".join(served)
    for keyword, value in IDENTITY.items():
        assert value.encode() not in everything, keyword
        assert value.replace("^", " ").encode() not in everything, keyword
    assert PRIVATE_VALUE.encode() not in everything
    assert image.original.open("rb").read().count(IDENTITY["PatientID"].encode()) == 1  # the admin's copy keeps it


def test_the_dicom_copy_goes_to_the_cases_clinician_only(client, tmp_path, carmen, chidi, ada):
    import_bundle(path=write_bundle(tmp_path / "bundle"))
    claim_case("case-0002", [carmen, chidi])
    image = Image.objects.get(case__key="case-0002")
    client.force_login(carmen)
    response = client.get(image.web_dicom.url)
    assert response.status_code == 200 and response["Content-Type"] == "application/dicom"
    copy = pydicom.dcmread(io.BytesIO(body(response)))
    assert copy.PatientIdentityRemoved == "YES" and copy.Rows == 128
    client.force_login(chidi)  # in the campaign, handed nothing
    assert client.get(image.web_dicom.url).status_code == 403
    client.force_login(ada)
    assert client.get(image.web_dicom.url).status_code == 200


def test_deep_zoom_tiles_go_to_the_cases_clinician_only(client, tmp_path, carmen, chidi, monkeypatch):
    monkeypatch.setattr(imaging, "TILE_MIN_PIXELS", 1)
    import_bundle(path=write_bundle(tmp_path / "bundle"))
    assignment = claim_case("case-0001", [carmen, chidi])
    image = Image.objects.filter(case__key="case-0001").first()
    assert image.tiles.endswith(".dzi") and image.display["kind"] == "tiles"
    tile = image.tiles.replace(".dzi", "_files/0/0_0.jpg")
    client.force_login(carmen)
    page = client.get(f"/work/item/{assignment.pk}/").content.decode()
    assert f"/media/{image.tiles}" in same_origin_urls(page)
    descriptor = client.get(f"/media/{image.tiles}")
    assert descriptor.status_code == 200 and b"deepzoom" in body(descriptor)
    assert client.get(f"/media/{tile}").status_code == 200
    assert client.get(f"/media/{tile.replace('0_0.jpg', '9_9.jpg')}").status_code == 404
    client.force_login(chidi)
    assert client.get(f"/media/{tile}").status_code == 403
    assert client.get(f"/media/{image.tiles}").status_code == 403
