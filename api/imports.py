"""Imports through the API: upload a bundle, a chat log, a dataset file or an Inspect log; follow its import.

The upload is saved and its import queued on the ``imports`` Celery queue (``bundles.uploads``); the answer is 202
with the URL of the import's state, which gives its problems (``file:line: field: message``) once rejected.
"""

import tempfile
import tomllib
from pathlib import Path

from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from api import idempotency
from api.endpoints import research_endpoint
from api.errors import unprocessable, write_errors
from bundles.adapters import SUFFIXES
from bundles.adapters.mapping import load_mapping
from bundles.problems import BundleInvalid
from bundles.selectors import upload_state
from bundles.uploads import BUNDLE, queue_bundle_upload

FORMATS = {BUNDLE: (".zip",), **SUFFIXES}
MAPPING_SUFFIXES = (".json", ".toml")


class ImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The bundle (.zip), chat log, dataset file or Inspect log.")
    format = serializers.ChoiceField(
        choices=sorted(FORMATS),
        default=BUNDLE,
        help_text="bundle (.zip); openai-chat (.jsonl, .json or a .zip with images); hf-dataset (.parquet, .jsonl, "
        ".json); inspect (.eval or .json).",
    )
    mapping = serializers.FileField(
        required=False, help_text="For the adapters: a JSON or TOML mapping file (fields, roles, defaults)."
    )

    def validate(self, data: dict) -> dict:
        suffixes = FORMATS[data["format"]]
        if Path(data["file"].name).suffix.lower() not in suffixes:
            raise serializers.ValidationError({"file": [f"a {data['format']} upload ends in {', '.join(suffixes)}"]})
        upload = data.get("mapping")
        if upload is None:
            return data
        if data["format"] == BUNDLE:
            raise serializers.ValidationError({"mapping": ["a bundle takes no mapping: it is the native format"]})
        if Path(upload.name).suffix.lower() not in MAPPING_SUFFIXES:
            raise serializers.ValidationError({"mapping": ["must be a .json or .toml file"]})
        data["mapping"] = _mapping(upload)
        return data


def _mapping(upload):
    """The uploaded mapping file, validated as the command's ``--mapping`` is."""
    suffix = Path(upload.name).suffix.lower()
    with tempfile.NamedTemporaryFile(suffix=suffix) as handle:
        for chunk in upload.chunks():
            handle.write(chunk)
        handle.flush()
        try:
            return load_mapping(path=Path(handle.name))
        except BundleInvalid as error:
            raise serializers.ValidationError({"mapping": [p.message for p in error.problems]}) from None
        except tomllib.TOMLDecodeError as error:
            raise serializers.ValidationError({"mapping": [f"cannot be read: {error}"]}) from None


class ImportStateSerializer(serializers.Serializer):
    id = serializers.CharField(source="token")
    file = serializers.CharField()
    format = serializers.CharField()
    state = serializers.ChoiceField(
        choices=["queued", "running", "imported", "unchanged", "rejected", "failed"],
        help_text="imported or unchanged: done; rejected: the problems say why and nothing changed; failed: error.",
    )
    done = serializers.BooleanField()
    queued_at = serializers.DateTimeField()
    summary = serializers.CharField()
    notes = serializers.ListField(child=serializers.CharField())
    problems = serializers.ListField(child=serializers.CharField(), help_text="Each as file:line: field: message.")
    truncated = serializers.BooleanField(help_text="More problems were found than are listed.")
    error = serializers.CharField()
    bundle = serializers.IntegerField(allow_null=True, help_text="The bundle import made, once imported.")
    status_url = serializers.SerializerMethodField()

    def get_status_url(self, state) -> str:
        return self.context["request"].build_absolute_uri(reverse("api:import-detail", args=[state.token]))


@research_endpoint(
    methods=["POST"],
    parsers=[MultiPartParser, FormParser],
    request={"multipart/form-data": ImportRequestSerializer},
    parameters=[idempotency.PARAMETER],
    responses={
        202: OpenApiResponse(ImportStateSerializer, description="Queued; follow status_url until done."),
        **write_errors(),
    },
    description="Upload a file to import in the background (all or nothing, as `import_bundle`).",
)
def import_create(request: Request) -> Response:
    return idempotency.respond_once(request, lambda: _create(request))


def _create(request: Request) -> Response:
    form = ImportRequestSerializer(data=request.data)
    if not form.is_valid():
        return unprocessable(form.errors)
    data = form.validated_data
    token = queue_bundle_upload(
        uploaded=data["file"], user=request.user, format=data["format"], mapping=data.get("mapping")
    )
    body = ImportStateSerializer(upload_state(token=token), context={"request": request}).data
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["status_url"]})


@research_endpoint(
    methods=["GET"],
    responses={200: ImportStateSerializer},
    description="An import's state; its problems once rejected. Only its uploader and admins see it.",
)
def import_detail(request: Request, token: str) -> Response:
    state = upload_state(token=token)
    if state is None or not (request.user.is_staff or state.uploaded_by == request.user.pk):
        return Response({"detail": "No such import."}, status=status.HTTP_404_NOT_FOUND)
    return Response(ImportStateSerializer(state, context={"request": request}).data)
