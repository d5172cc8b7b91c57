from django.apps import AppConfig


class BundlesConfig(AppConfig):
    """Benchmark bundles: parse, import and export them, and build the demo one. No models of its own."""

    name = "bundles"
    verbose_name = "Benchmark bundles"
