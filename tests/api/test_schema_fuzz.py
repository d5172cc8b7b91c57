"""The API fuzzed from its own OpenAPI schema with schemathesis, as a researcher and as a clinician.

Every operation gets valid and invalid requests (bounded: ``EXAMPLES_PER_MODE`` of each); every response must
be no server error and conform to the schema: a listed status code, the listed content type, the listed body.
The requests go through Django's WSGI handler (so a crash is a real 500, not a re-raised exception) inside the
test's transaction. A POST that the schema allows may still be refused with its documented 422: its ids must name
objects that exist (a judge, a prompt version), which no schema can say; everything else is checked for POSTs too.
"""

from collections import Counter
from dataclasses import dataclass

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance
from schemathesis.errors import FailureGroup

from bundles.importer import import_bundle
from tests.bundle_files import write_bundle

pytestmark = pytest.mark.django_db

EXAMPLES_PER_MODE = 10  # positive and negative: 20 requests per operation and token


@pytest.fixture
def app():
    """Django's WSGI handler, kept from closing the test transaction's connection as a real server would."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(tmp_path):
    return import_bundle(path=write_bundle(tmp_path / "bundle"))


@dataclass(frozen=True)
class Found:
    kind: str  # check, operation, status: failures of one kind are one defect
    request: str


def report(sent: int, failures: list[Found]) -> str:
    kinds = Counter(failure.kind for failure in failures)
    examples = {failure.kind: failure.request for failure in failures}
    lines = [f"{n:4d} x {kind}\n         e.g. {examples[kind]}" for kind, n in kinds.most_common()]
    return f"{len(failures)} failures in {sent} requests, {len(kinds)} kinds:\n" + "\n".join(lines)


def token_for(user) -> dict[str, str]:
    return {"Authorization": f"Token {Token.objects.create(user=user).key}"}


def fuzz(app, *, schema_headers: dict[str, str], headers: dict[str, str]) -> tuple[int, list[Found]]:
    """Run every operation of the schema; return how many requests were sent and the failures found."""
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app, headers=schema_headers)
    sent, failures = 0, []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES_PER_MODE,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case):
                nonlocal sent
                sent += 1
                response = case.call(headers=headers)
                excluded = [positive_data_acceptance] if case.method == "POST" else []
                try:
                    case.validate_response(response, headers=headers, excluded_checks=excluded)
                except FailureGroup as group:
                    status = response.status_code
                    request = f"{case.method} {case.formatted_path} {case.query or ''} -> {status}"
                    failures.extend(
                        Found(f"{failure.code} {failure.title}: {case.operation.label} -> {status}", request)
                        for failure in group.exceptions
                    )

            try:
                run()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, f"no valid request for {operation.label}"
                # every value the schema allows is valid (e.g. a string key): there is no invalid request to send
    return sent, failures


def test_a_researcher_token_meets_no_server_error_and_no_schema_violation(app, world, rex):
    headers = token_for(rex)
    sent, failures = fuzz(app, schema_headers=headers, headers=headers)
    assert sent >= 14 * EXAMPLES_PER_MODE
    print(f"schemathesis: {sent} requests, {len(failures)} failures")
    assert not failures, report(sent, failures)


def test_a_clinician_token_is_refused_everywhere_as_the_schema_says(app, world, rex, carmen):
    sent, failures = fuzz(app, schema_headers=token_for(rex), headers=token_for(carmen))
    assert sent >= 14 * EXAMPLES_PER_MODE
    print(f"schemathesis: {sent} requests, {len(failures)} failures")
    assert not failures, report(sent, failures)
