"""What the SDK-based providers share: building the SDK's client with a limiter slot held per HTTP exchange,
and mapping its errors (the anthropic and openai SDKs share their exception shapes)."""

import importlib

from engine.providers.base import ProviderError, redact, status_error


class SdkProvider:
    """A provider over an official SDK (an optional extra, imported when the provider is built). Subclasses name
    ``sdk_module`` and ``client_class`` and may adjust the client's keyword arguments in ``client_options``."""

    sdk_module: str
    client_class: str

    def __init__(
        self, *, api_key: str | None = None, base_url: str | None = None, timeout: float = 60.0, limiter=None, **_
    ):
        sdk = importlib.import_module(self.sdk_module)
        transport = importlib.import_module("engine.providers._transport")  # needs the SDK's HTTP library
        self.limiter = limiter  # held per HTTP exchange, by the client's transport
        self._sdk = sdk
        options = {"api_key": api_key, "base_url": base_url or None, "timeout": timeout, "max_retries": 0}
        self.client = getattr(sdk, self.client_class)(
            **self.client_options(options), http_client=transport.limited_http_client(sdk, limiter)
        )

    def client_options(self, options: dict) -> dict:
        return options


def map_sdk_error(error: Exception, *, provider: str) -> ProviderError:
    status = getattr(error, "status_code", None)
    response = getattr(error, "response", None)
    if status is not None:
        body = getattr(error, "message", None) or str(error)
        return status_error(
            provider=provider, status=int(status), message=body, headers=getattr(response, "headers", None)
        )
    name = type(error).__name__
    if "Timeout" in name:
        return ProviderError(f"{provider}: timed out", transient=True)
    if "Connection" in name:
        return ProviderError(f"{provider}: connection failed ({redact(str(error))[:200]})", transient=True)
    return ProviderError(f"{provider}: {name}: {redact(str(error))[:300]}", transient=False)
