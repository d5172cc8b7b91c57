"""Calibrating and publishing through the API: fit and save a campaign's calibration, publish its leaderboard.

Both answer 201 with what was made, or 200 with what already existed when the inputs are the same (a calibration
of the same judgements, annotations and seed; a snapshot of the same calibration and judgement set).
"""

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response

from annotation.models import Campaign
from annotation.roles import HasRole, Role
from api import idempotency
from api.errors import ApiSchema, unprocessable, write_errors
from api.views import CalibrationSerializer, LeaderboardSnapshotSerializer
from jury.results.calibration import save_calibration
from jury.results.leaderboard import NoCalibration, publish_leaderboard

RESEARCH_ROLES = (Role.RESEARCHER, Role.ADMIN)


class CalibrateRequestSerializer(serializers.Serializer):
    seed = serializers.IntegerField(default=0, min_value=0, max_value=2**31 - 1, help_text="Cross-validation seed.")


class SavedCalibrationSerializer(CalibrationSerializer):
    url = serializers.SerializerMethodField()

    class Meta(CalibrationSerializer.Meta):
        fields = [*CalibrationSerializer.Meta.fields, "url"]

    def get_url(self, artifact) -> str:
        return self.context["request"].build_absolute_uri(reverse("api:calibration-detail", args=[artifact.pk]))


class PublishedSnapshotSerializer(LeaderboardSnapshotSerializer):
    url = serializers.SerializerMethodField()

    class Meta(LeaderboardSnapshotSerializer.Meta):
        fields = [*LeaderboardSnapshotSerializer.Meta.fields, "url"]

    def get_url(self, snapshot) -> str:
        return self.context["request"].build_absolute_uri(reverse("api:leaderboard-detail", args=[snapshot.pk]))


def _made(body: dict, created: bool) -> Response:
    code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return Response(body, status=code, headers={"Location": body["url"]})


def _refused(error: Exception) -> Response:
    return Response({"campaign": [str(error)]}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)


@extend_schema(
    request=CalibrateRequestSerializer,
    parameters=[idempotency.PARAMETER],
    responses={
        201: OpenApiResponse(SavedCalibrationSerializer, description="A new calibration version was saved."),
        200: OpenApiResponse(SavedCalibrationSerializer, description="The saved one fitted on exactly these inputs."),
        **write_errors(),
    },
    description="Cross-validate every calibration method against the campaign's clinicians and save the result. "
    "422 (naming `campaign`) when it is too thin to calibrate, saying what is missing.",
)
@api_view(["POST"])
@permission_classes([HasRole])
def calibrate(request: Request, key: str) -> Response:
    campaign = get_object_or_404(Campaign, key=key)
    return idempotency.respond_once(request, lambda: _calibrate(request, campaign))


calibrate.cls.required_roles = RESEARCH_ROLES
calibrate.cls.schema = ApiSchema()


def _calibrate(request: Request, campaign: Campaign) -> Response:
    form = CalibrateRequestSerializer(data=request.data)
    if not form.is_valid():
        return unprocessable(form.errors)
    try:
        artifact, created = save_calibration(campaign=campaign, actor=request.user, seed=form.validated_data["seed"])
    except ValueError as error:  # NotReady says in words what is missing
        return _refused(error)
    return _made(SavedCalibrationSerializer(artifact, context={"request": request}).data, created)


@extend_schema(
    request=None,
    parameters=[idempotency.PARAMETER],
    responses={
        201: OpenApiResponse(PublishedSnapshotSerializer, description="A new snapshot was published."),
        200: OpenApiResponse(PublishedSnapshotSerializer, description="The snapshot of exactly these inputs."),
        **write_errors(),
    },
    description="Freeze the leaderboard of the campaign's latest saved calibration as a snapshot. 422 (naming "
    "`campaign`) when no calibration is saved or none of the judgements can be ranked.",
)
@api_view(["POST"])
@permission_classes([HasRole])
def publish(request: Request, key: str) -> Response:
    campaign = get_object_or_404(Campaign, key=key)
    return idempotency.respond_once(request, lambda: _publish(request, campaign))


publish.cls.required_roles = RESEARCH_ROLES
publish.cls.schema = ApiSchema()


def _publish(request: Request, campaign: Campaign) -> Response:
    try:
        snapshot, created = publish_leaderboard(campaign=campaign, user=request.user)
    except (NoCalibration, ValueError) as error:
        return _refused(error)
    return _made(PublishedSnapshotSerializer(snapshot, context={"request": request}).data, created)
