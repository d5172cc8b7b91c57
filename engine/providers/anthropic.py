"""Anthropic's Messages API through the official SDK, images as base64 image blocks."""

import base64
import time

from engine.providers._sdk import SdkProvider, map_sdk_error
from engine.providers.base import ProviderReply, ProviderRequest

# Current Messages API models take no sampling parameters (temperature, top_p): only these are passed, and
# anything else a judge needs goes in its parameters' "extra_body".
PASSED = ("stop_sequences", "thinking", "output_config", "service_tier")


class AnthropicProvider(SdkProvider):
    name = "anthropic"

    sdk_module = "anthropic"
    client_class = "Anthropic"

    def complete(self, request: ProviderRequest) -> ProviderReply:
        messages = []
        for message in request.messages:
            content = [
                {
                    "type": "image",
                    "source": {
                        "type": "base64",
                        "media_type": image.media_type,
                        "data": base64.b64encode(image.data).decode(),
                    },
                }
                for image in message.images
            ]
            content.append({"type": "text", "text": message.text})
            messages.append({"role": message.role, "content": content})
        params = {key: value for key, value in request.parameters.items() if key in PASSED}
        if request.parameters.get("extra_body"):
            params["extra_body"] = request.parameters["extra_body"]
        started = time.monotonic()
        try:
            reply = self.client.messages.create(
                model=request.model,
                system=request.system,
                messages=messages,
                max_tokens=int(request.parameters.get("max_tokens", 1024)),
                **params,
            )
        except self._sdk.AnthropicError as error:
            raise map_sdk_error(error, provider=self.name) from None
        text = "".join(block.text for block in reply.content if getattr(block, "type", "") == "text")
        return ProviderReply(
            text=text,
            input_tokens=reply.usage.input_tokens or 0,
            output_tokens=reply.usage.output_tokens or 0,
            request_id=getattr(reply, "_request_id", None) or reply.id or "",
            latency_ms=int((time.monotonic() - started) * 1000),
        )
