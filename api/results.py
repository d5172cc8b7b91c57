"""Calibrating and publishing through the API: fit and save a campaign's calibration, publish its leaderboard.

Both answer 201 with what was made, or 200 with what already existed when the inputs are the same (a calibration
of the same judgements, annotations and seed; a snapshot of the same calibration and judgement set).
"""

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from annotation.models import Campaign
from api import idempotency
from api.endpoints import research_endpoint
from api.errors import unprocessable, write_errors
from api.views import CalibrationSerializer, LeaderboardSnapshotSerializer
from jury.results.calibration import save_calibration
from jury.results.leaderboard import NoCalibration, publish_leaderboard


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


@research_endpoint(
    methods=["POST"],
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
def calibrate(request: Request, key: str) -> Response:
    campaign = get_object_or_404(Campaign, key=key)
    return idempotency.respond_once(request, lambda: _calibrate(request, campaign))


def _calibrate(request: Request, campaign: Campaign) -> Response:
    form = CalibrateRequestSerializer(data=request.data)
    if not form.is_valid():
        return unprocessable(form.errors)
    try:
        artifact, created = save_calibration(campaign=campaign, actor=request.user, seed=form.validated_data["seed"])
    except ValueError as error:  # NotReady says in words what is missing
        return _refused(error)
    return _made(SavedCalibrationSerializer(artifact, context={"request": request}).data, created)


@research_endpoint(
    methods=["POST"],
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
def publish(request: Request, key: str) -> Response:
    campaign = get_object_or_404(Campaign, key=key)
    return idempotency.respond_once(request, lambda: _publish(request, campaign))


def _publish(request: Request, campaign: Campaign) -> Response:
    try:
        snapshot, created = publish_leaderboard(campaign=campaign, user=request.user)
    except (NoCalibration, ValueError) as error:
        return _refused(error)
    return _made(PublishedSnapshotSerializer(snapshot, context={"request": request}).data, created)
