"""Amazon Bedrock's Converse API through boto3 (Nova, Llama, Claude …), images as raw bytes."""

import contextlib
import time

from engine.providers.base import ProviderError, ProviderReply, ProviderRequest, redact, status_error

TRANSIENT_CODES = {
    "ThrottlingException",
    "ServiceUnavailableException",
    "InternalServerException",
    "ModelNotReadyException",
    "ModelTimeoutException",
    "TooManyRequestsException",
}
FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}


class BedrockProvider:
    name = "bedrock"

    def __init__(self, *, region: str | None = None, client=None, timeout: float = 60.0, limiter=None, **_ignored):
        if client is None:
            import boto3
            from botocore.config import Config

            config = Config(read_timeout=timeout, connect_timeout=10, retries={"total_max_attempts": 1})
            client = boto3.client("bedrock-runtime", region_name=region or None, config=config)
        self.client = client
        self.limiter = limiter  # boto3 offers no transport to wrap: the slot covers the whole call

    def complete(self, request: ProviderRequest) -> ProviderReply:
        from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

        messages = []
        for message in request.messages:
            content = [
                {"image": {"format": FORMATS.get(image.media_type, "png"), "source": {"bytes": image.data}}}
                for image in message.images
            ]
            content.append({"text": message.text})
            messages.append({"role": message.role, "content": content})
        inference = {"maxTokens": int(request.parameters.get("max_tokens", 1024))}
        for ours, theirs in (("temperature", "temperature"), ("top_p", "topP")):
            if ours in request.parameters:
                inference[theirs] = request.parameters[ours]
        kwargs = {"modelId": request.model, "messages": messages, "inferenceConfig": inference}
        if request.system:
            kwargs["system"] = [{"text": request.system}]
        started = time.monotonic()
        try:
            with self.limiter.slot() if self.limiter else contextlib.nullcontext():
                reply = self.client.converse(**kwargs)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400
            message = f"{code}: {error.response.get('Error', {}).get('Message', '')}"
            if code in TRANSIENT_CODES:
                headers = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
                mapped = status_error(
                    provider=self.name, status=max(int(status), 429), message=message, headers=headers
                )
                mapped.transient = True
                raise mapped from None
            raise status_error(provider=self.name, status=int(status), message=message) from None
        except (ReadTimeoutError, ConnectionError) as error:
            raise ProviderError(f"bedrock: {type(error).__name__}", transient=True) from None
        except BotoCoreError as error:
            raise ProviderError(f"bedrock: {redact(str(error))[:300]}", transient=False) from None
        blocks = reply.get("output", {}).get("message", {}).get("content", [])
        usage = reply.get("usage", {})
        return ProviderReply(
            text="".join(block.get("text", "") for block in blocks),
            input_tokens=int(usage.get("inputTokens", 0)),
            output_tokens=int(usage.get("outputTokens", 0)),
            request_id=reply.get("ResponseMetadata", {}).get("RequestId", ""),
            latency_ms=int(reply.get("metrics", {}).get("latencyMs") or (time.monotonic() - started) * 1000),
        )
