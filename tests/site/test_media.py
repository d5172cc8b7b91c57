"""Media files are served through the object that owns them, and only to the roles that may see that object."""

import re

import pytest

from tests.site.conftest import EXPORT_CONTENT

pytestmark = pytest.mark.django_db


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_a_clinician_swapping_web_for_original_in_an_image_url_gets_no_dicom(client, world, carmen):
    client.force_login(carmen)
    page = client.get(f"/work/item/{world.assignment.pk}/").content.decode()
    web_url = re.search(r'src="(/media/images/web/[^"]+\.png)"', page).group(1)
    assert client.get(web_url).status_code == 200
    original_url = web_url.replace("/web/", "/original/").replace(".png", ".dcm")
    assert original_url == f"/media/{world.image.original.name}"
    response = client.get(original_url)
    assert response.status_code == 403
    assert b"PatientName" not in body(response) and b"DICM" not in body(response)


@pytest.mark.parametrize("persona", ["carmen", "chidi", "adele", "rex"])
def test_originals_are_served_to_nobody_but_admins(client, world, persona, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(f"/media/{world.image.original.name}").status_code == 403


def test_an_admin_gets_the_original_as_a_download(client, world, ada):
    client.force_login(ada)
    response = client.get(f"/media/{world.image.original.name}")
    assert response.status_code == 200
    assert body(response)[128:132] == b"DICM"
    assert response["Content-Disposition"].startswith("attachment;")


def test_a_clinician_sees_the_images_of_their_own_items_only(client, world, carmen, chidi):
    client.force_login(carmen)
    assert client.get(world.image.derivative.url).status_code == 200
    assert client.get(world.other_image.derivative.url).status_code == 403
    client.force_login(chidi)  # in the same campaign, but handed nothing yet
    assert client.get(world.image.derivative.url).status_code == 403


TRICKS = [
    "/media//{name}",
    "/media/./{name}",
    "/media/images/../{name}",
    "/media/%2e/{name}",
    "/media/%2E/{name}",
    "/media/exports/../{name}",
    "/media/images/web/../../{name}",
    "/media/{name}/",
    "/media/{name}%00",
]


@pytest.mark.parametrize("persona", ["carmen", "adele"])
def test_exports_are_refused_to_clinicians_and_adjudicators_however_the_path_is_spelt(client, world, persona, request):
    client.force_login(request.getfixturevalue(persona))
    name = world.export_job.file.name
    assert client.get(f"/media/{name}").status_code == 403
    for trick in TRICKS:
        response = client.get(trick.format(name=name))
        assert response.status_code in (403, 404), trick
        assert EXPORT_CONTENT not in body(response), trick


def test_a_researcher_gets_the_export_only_under_its_own_name(client, world, rex):
    client.force_login(rex)
    name = world.export_job.file.name
    response = client.get(f"/media/{name}")
    assert response.status_code == 200 and body(response) == EXPORT_CONTENT
    for trick in TRICKS:
        assert client.get(trick.format(name=name)).status_code == 404, trick


def test_a_file_on_disk_that_no_object_owns_is_not_served(client, world, ada, settings):
    (settings.MEDIA_ROOT / "exports" / "stray.csv").write_text("stray")
    client.force_login(ada)
    assert client.get("/media/exports/stray.csv").status_code == 404
    assert client.get("/media/images/web/").status_code == 404


def test_outsiders_and_anonymous_users_get_no_media(client, world, otto):
    assert client.get(world.image.derivative.url).status_code == 302
    client.force_login(otto)
    assert client.get(world.image.derivative.url).status_code == 403
