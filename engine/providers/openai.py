"""OpenAI's Chat Completions through the official SDK, images as data URLs. ``base_url`` points it at any
OpenAI-compatible server (vLLM, Ollama, …)."""

import base64
import importlib
import time

from engine.providers._sdk import SdkProvider, map_sdk_error
from engine.providers.base import ProviderError, ProviderReply, ProviderRequest

PASSED = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "seed", "stop")


class OpenAIProvider(SdkProvider):
    name = "openai"

    sdk_module = "openai"
    client_class = "OpenAI"

    def __init__(self, **options):
        super().__init__(**options)
        self._raw = importlib.import_module("httpx2").Response

    def client_options(self, options: dict) -> dict:
        # An OpenAI-compatible local server often needs no key; the SDK insists on one.
        return options | {"api_key": options["api_key"] or ("not-needed" if options["base_url"] else None)}

    def complete(self, request: ProviderRequest) -> ProviderReply:
        messages = [{"role": "system", "content": request.system}] if request.system else []
        for message in request.messages:
            if message.images:
                content = [
                    {
                        "type": "image_url",
                        "image_url": {"url": f"data:{image.media_type};base64,{base64.b64encode(image.data).decode()}"},
                    }
                    for image in message.images
                ]
                content.append({"type": "text", "text": message.text})
            else:
                content = message.text
            messages.append({"role": message.role, "content": content})
        params = {key: value for key, value in request.parameters.items() if key in PASSED}
        started = time.monotonic()
        try:
            # The client's own POST: same auth, transport, errors and request id as ``chat.completions.create``,
            # without its per-call parameter transformation (~1.3 ms of CPU a call, measured), and with the reply
            # read as JSON rather than built into pydantic models (another ~0.35 ms): at hundreds of calls a
            # second in one process that CPU is what limits throughput. The body is plain JSON built above.
            response = self.client.post(
                "/chat/completions",
                body={"model": request.model, "messages": messages, **params},
                cast_to=self._raw,
            )
            reply = response.json()
        except self._sdk.OpenAIError as error:
            raise map_sdk_error(error, provider=self.name) from None
        except ValueError as error:  # not JSON: an unusable reply, like any other the runner cannot score
            raise ProviderError(f"openai: the reply is not JSON ({error})", transient=True) from None
        choice = (reply.get("choices") or [{}])[0]
        usage = reply.get("usage") or {}
        return ProviderReply(
            text=(choice.get("message") or {}).get("content") or "",
            input_tokens=int(usage.get("prompt_tokens") or 0),
            output_tokens=int(usage.get("completion_tokens") or 0),
            request_id=response.headers.get("x-request-id") or reply.get("id") or "",
            latency_ms=int((time.monotonic() - started) * 1000),
        )
