from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The researchers' REST API; its one model remembers the responses given to POSTs sent with an idempotency key."""

    name = "api"
    verbose_name = "API"
