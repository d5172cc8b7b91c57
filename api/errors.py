"""The API's errors: JSON bodies everywhere under /api/, and in the schema for every operation that can answer them.

- 400 a query parameter is invalid (``{"page_size": ["…"]}``, DRF's field errors);
- 401 no or bad credentials, 403 an account without a research role;
- 409 a request with the same ``Idempotency-Key`` is still being answered;
- 415 a POST body of a media type the operation does not take;
- 422 a POST whose fields are invalid or that cannot be carried out (``{"judges": ["…"]}``), nothing changed;
- 404 no such object, a cursor that is not the list's, or no such URL under /api/ (``{"detail": "…"}``), also
  where Django's resolver answers;
- 500 a server error, as JSON for /api/ paths.
"""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

API_PREFIX = "/api/"

Problem = inline_serializer("Problem", fields={"detail": serializers.CharField()})
FIELD_PROBLEMS = {
    "type": "object",
    "description": "Each invalid parameter with what is wrong with it.",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
    "example": {"page_size": ["A whole number from 1 to 1000 is required."]},
}

BAD_REQUEST = OpenApiResponse(response=FIELD_PROBLEMS, description="A query parameter is invalid.")
UNAUTHENTICATED = OpenApiResponse(response=Problem, description="No credentials, or a token that is not valid.")
FORBIDDEN = OpenApiResponse(response=Problem, description="The account has no research role.")
NOT_FOUND = OpenApiResponse(response=Problem, description="No such object.")
NO_SUCH_PAGE = OpenApiResponse(response=Problem, description="The cursor is not one of this list's.")
UNPROCESSABLE = OpenApiResponse(
    response={**FIELD_PROBLEMS, "example": {"judges": ["No judge 'gpt-5-judge'."]}},
    description="A field (or the Idempotency-Key header) is invalid, or the request cannot be carried out; each "
    "field named with what is wrong. Nothing was changed.",
)
MALFORMED = OpenApiResponse(response=Problem, description="The body cannot be parsed (e.g. invalid JSON).")
IN_PROGRESS = OpenApiResponse(
    response=FIELD_PROBLEMS, description="A request with this Idempotency-Key is still being answered."
)
UNSUPPORTED = OpenApiResponse(response=Problem, description="The body's media type is not accepted.")


def error_responses(*, lookup: bool, listing: bool) -> dict[int, OpenApiResponse]:
    """The errors an operation answers: ``lookup`` when its path names an object, ``listing`` when paginated."""
    responses = {401: UNAUTHENTICATED, 403: FORBIDDEN}
    if lookup:
        responses[404] = NOT_FOUND
    if listing:
        responses[400] = BAD_REQUEST
        responses.setdefault(404, NO_SUCH_PAGE)
    return responses


def unprocessable(errors) -> Response:
    """422 with DRF's field errors flattened to ``{"field.sub[0]": ["message", …]}``: every key names a field."""
    problems: dict[str, list[str]] = {}

    def walk(value, path: str) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                walk(child, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}" if path else str(key))
        elif isinstance(value, list) and any(isinstance(item, dict | list) for item in value):
            for index, child in enumerate(value):
                walk(child, f"{path}[{index}]")
        else:
            problems.setdefault(path or "non_field_errors", []).extend(
                str(item) for item in (value if isinstance(value, list) else [value])
            )

    walk(errors, "")
    return Response(problems, status=status.HTTP_422_UNPROCESSABLE_ENTITY)


def write_errors() -> dict[int, OpenApiResponse]:
    """The errors a POST answers beyond those of every operation."""
    return {400: MALFORMED, 409: IN_PROGRESS, 415: UNSUPPORTED, 422: UNPROCESSABLE}


class ApiSchema(AutoSchema):
    """drf-spectacular's schema with the error responses each operation can give (unless the view lists its own)."""

    def _get_response_bodies(self, direction="response"):
        bodies = super()._get_response_bodies(direction)
        if direction != "response":
            return bodies
        errors = error_responses(lookup="{" in self.path, listing=self._is_list_view())
        for code, response in errors.items():
            bodies.setdefault(str(code), self._get_response_for_code(response, str(code), direction=direction))
        return bodies


@csrf_exempt  # it only ever answers 404: a POST to an unknown API path gets that, not the CSRF page
def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404 for a URL under /api/ that names nothing (JSON whatever DEBUG says); Django's page elsewhere."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": f"No API endpoint or object at {request.path}."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": "Server error: the failure is logged; try again later."}, status=500)
    return defaults.server_error(request)
