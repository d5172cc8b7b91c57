"""Error mapping shared by the SDK-based providers (the anthropic and openai SDKs share their exception shapes)."""

from engine.providers.base import ProviderError, redact, status_error


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
