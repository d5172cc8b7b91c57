"""Judge providers behind one interface (:mod:`engine.providers.base`). ``get_provider(name)`` builds one."""

from django.conf import settings

from engine.providers.base import (
    ImagePart,
    Message,
    Provider,
    ProviderError,
    ProviderReply,
    ProviderRequest,
    ReplyError,
    parse_reply,
)
from engine.providers.simulated import SimulatedProvider

PROVIDERS = ("anthropic", "openai", "bedrock", "simulated")

__all__ = [
    "PROVIDERS",
    "ImagePart",
    "Message",
    "Provider",
    "ProviderError",
    "ProviderReply",
    "ProviderRequest",
    "ReplyError",
    "get_provider",
    "parse_reply",
]


def get_provider(name: str, **overrides) -> Provider:
    """A provider configured from the settings (``JURY_*``); ``overrides`` replace settings (tests, bench)."""
    config = {**getattr(settings, "JURY_PROVIDERS", {}).get(name, {}), **overrides}
    config.setdefault("timeout", getattr(settings, "JURY_PROVIDER_TIMEOUT_SECONDS", 60.0))
    if name == "simulated":
        return SimulatedProvider(**config)
    # The SDK providers are optional extras ("providers"): their modules load only when one is asked for.
    if name == "anthropic":
        from engine.providers.anthropic import AnthropicProvider  # optional extra

        return AnthropicProvider(**config)
    if name == "openai":
        from engine.providers.openai import OpenAIProvider  # optional extra

        return OpenAIProvider(**config)
    if name == "bedrock":
        from engine.providers.bedrock import BedrockProvider  # optional extra

        return BedrockProvider(**config)
    raise ValueError(f"unknown provider {name!r}: use one of {', '.join(PROVIDERS)}")
