"""An httpx transport for the SDK-based providers that holds a limiter slot (:mod:`engine.limits`) per exchange."""

import httpx2


class LimitedTransport(httpx2.BaseTransport):
    """Holds one of the limiter's slots while a request is sent and its reply read in full."""

    def __init__(self, transport: httpx2.BaseTransport, limiter):
        self.transport = transport
        self.limiter = limiter

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        with self.limiter.slot():
            response = self.transport.handle_request(request)
            try:
                response.read()
            except BaseException:
                response.close()
                raise
            return response

    def close(self) -> None:
        self.transport.close()


def limited_http_client(sdk, limiter):
    """The SDK's default httpx client, each HTTP exchange under ``limiter``; ``None`` without a limiter."""
    if limiter is None:
        return None
    # The SDKs' own default connection limits (``DEFAULT_CONNECTION_LIMITS`` in openai and anthropic).
    inner = httpx2.HTTPTransport(limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=100))
    return sdk.DefaultHttpxClient(transport=LimitedTransport(inner, limiter))
