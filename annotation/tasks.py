from celery import shared_task


@shared_task(name="annotation.tasks.ping")
def ping(value: int) -> dict:
    """A task that proves the broker and a worker are wired up: it doubles ``value``."""
    return {"pong": value * 2}
