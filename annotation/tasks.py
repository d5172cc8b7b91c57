from celery import shared_task

from annotation import services


@shared_task(name="annotation.tasks.ping")
def ping(value: int) -> dict:
    """A task that proves the broker and a worker are wired up: it doubles ``value``."""
    return {"pong": value * 2}


@shared_task(name="annotation.tasks.expire_stale_leases")
def expire_stale_leases() -> int:
    """Beat's sweep of lapsed annotation leases (claiming expires them too; this keeps idle campaigns honest)."""
    return services.expire_stale_leases()
