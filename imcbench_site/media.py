"""Files under MEDIA_ROOT, served only through the object that owns them.

A request names a stored file; the file is served when an object stores exactly that name and the user's role
may see that object: an image's web derivative, de-identified DICOM copy and Deep Zoom tiles to anyone who may
see its case, an original (which may carry
patient identifiers) to admins only, an export job's file to researchers and admins. Any other name, including
another spelling of an owned one (``//``, ``./``, ``..``, ``%2e``), is a 404.
"""

import posixpath

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_GET

from annotation import selectors as annotation_selectors
from annotation.roles import Role, has_role, roles_of
from jury import selectors as jury_selectors

IMAGE_CACHE_CONTROL = "private, max-age=3600"
SENSITIVE_CACHE_CONTROL = "private, no-store"


def is_canonical(name: str) -> bool:
    return bool(name) and "\\" not in name and "\x00" not in name and posixpath.normpath(name) == name


def _file_response(field: FieldFile, *, cache_control: str, as_attachment: bool = False) -> FileResponse:
    if not field.storage.exists(field.name):
        raise Http404("The file is no longer on disk.")
    response = FileResponse(field.open("rb"), as_attachment=as_attachment, filename=posixpath.basename(field.name))
    response["Cache-Control"] = cache_control
    return response


def _stored_response(name: str, *, cache_control: str) -> FileResponse:
    """A derivative, a de-identified DICOM copy, a Deep Zoom descriptor or one of its tiles."""
    if not default_storage.exists(name):
        raise Http404("The file is no longer on disk.")
    response = FileResponse(default_storage.open(name, "rb"), filename=posixpath.basename(name))
    if name.endswith(".dcm"):
        response["Content-Type"] = "application/dicom"
    elif name.endswith(".dzi"):
        response["Content-Type"] = "application/xml"
    response["Cache-Control"] = cache_control
    return response


@require_GET
@login_required
def media(request: HttpRequest, path: str) -> FileResponse:
    if not roles_of(request.user):
        raise PermissionDenied("Media files are only for accounts with a role.")
    if not is_canonical(path):
        raise Http404("No such file.")
    images = annotation_selectors.images_storing(name=path)
    originals = [image for image in images if image.original.name == path]
    if originals:
        if not has_role(request.user, Role.ADMIN):
            raise PermissionDenied("Original images are only for admins.")
        return _file_response(originals[0].original, cache_control=SENSITIVE_CACHE_CONTROL, as_attachment=True)
    if images:
        if not annotation_selectors.may_see_a_case(user=request.user, case_ids={image.case_id for image in images}):
            raise PermissionDenied("This image belongs to a case you do not work on.")
        return _stored_response(path, cache_control=IMAGE_CACHE_CONTROL)
    job = jury_selectors.export_job_owning(name=path)
    if job is not None:
        if not has_role(request.user, Role.RESEARCHER, Role.ADMIN):
            raise PermissionDenied("Exports are only for researchers and admins.")
        return _file_response(job.file, cache_control=SENSITIVE_CACHE_CONTROL, as_attachment=True)
    raise Http404("No such file.")
