"""Each kind of work has its own Celery queue, and beat's schedule names tasks that exist."""

import importlib

import pytest
from django.conf import settings

from imcbench_site.celery import app

ROUTED = {
    "jury.tasks.dispatch_run": "jury",
    "jury.tasks.work_chunk": "jury",
    "jury.tasks.estimate_run": "jury",
    "jury.tasks.resume_runs": "jury",
    "generation.tasks.dispatch_run": "generation",
    "generation.tasks.generate_chunk": "generation",
    "generation.tasks.resume_runs": "generation",
    "jury.export_tasks.run_export_job": "exports",
    "bundles.run_bundle_upload": "imports",
    "annotation.tasks.ping": "celery",
    "annotation.tasks.expire_stale_leases": "celery",
    "jury.export_tasks.delete_old_exports": "celery",
    "bundles.delete_abandoned_uploads": "celery",
}
QUEUES = {"celery", "jury", "generation", "exports", "imports"}


@pytest.fixture(scope="module")
def registered() -> set[str]:
    # What a worker imports: every app's tasks module (autodiscovery) and CELERY_IMPORTS.
    for module in [f"{label}.tasks" for label in ("annotation", "jury", "generation")] + list(settings.CELERY_IMPORTS):
        importlib.import_module(module)
    return {name for name in app.tasks if not name.startswith("celery.")}


@pytest.mark.parametrize(("task", "queue"), ROUTED.items())
def test_each_task_goes_to_its_queue(task, queue):
    assert app.amqp.router.route({}, task)["queue"].name == queue


def test_every_project_task_is_routed_on_purpose(registered):
    assert registered == set(ROUTED), "a new task: name its queue in CELERY_TASK_ROUTES and in this test"


def test_the_default_queue_is_kept_for_the_rest():
    assert app.conf.task_default_queue == "celery"
    assert {route["queue"] for route in app.conf.task_routes.values()} | {"celery"} == QUEUES


def test_beat_schedules_only_registered_tasks(registered):
    schedule = app.conf.beat_schedule
    assert {entry["task"] for entry in schedule.values()} == {
        "annotation.tasks.expire_stale_leases",
        "jury.export_tasks.delete_old_exports",
        "bundles.delete_abandoned_uploads",
    }
    assert {entry["task"] for entry in schedule.values()} <= registered
    assert schedule["expire-annotation-leases"]["schedule"].total_seconds() == 300
