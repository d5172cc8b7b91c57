"""The real SDK clients (anthropic, openai, boto3) against fakes: a loopback HTTP server and botocore's Stubber."""

import base64
import json

import boto3
import pytest
from botocore.stub import Stubber

from engine import calls
from engine.providers import Message, ProviderError, ProviderRequest, get_provider
from engine.providers.anthropic import AnthropicProvider
from engine.providers.bedrock import BedrockProvider
from engine.providers.openai import OpenAIProvider
from jury import runner, services
from jury.models import Judge, JudgePrompt, JuryRun, WorkItem
from testkit.loopback import FakeProvider
from tests.bundle_files import png_bytes
from tests.factories import ConversationFactory

PNG = png_bytes()


pytestmark = pytest.mark.usefixtures("eager_celery")


def request(text="Score this conversation.", *, images=True):
    from engine.providers import ImagePart

    parts = (ImagePart.of(data=PNG, media_type="image/png"),) if images else ()
    return ProviderRequest(
        model="judge-model",
        system="You are a judge.",
        messages=(Message(role="user", text=text, images=parts),),
        parameters={"temperature": 0, "max_tokens": 200},
    )


@pytest.fixture
def fake():
    with FakeProvider() as server:
        yield server


def anthropic_client(fake, timeout=5.0):
    return AnthropicProvider(api_key="sk-ant-test-0123456789", base_url=fake.url, timeout=timeout)


def openai_client(fake, timeout=5.0):
    return OpenAIProvider(api_key="sk-test-0123456789", base_url=f"{fake.url}/v1", timeout=timeout)


CLIENTS = {"anthropic": anthropic_client, "openai": openai_client}


@pytest.mark.parametrize("name", CLIENTS)
def test_a_scored_reply_comes_back_with_usage_and_request_id(fake, name):
    reply = CLIENTS[name](fake).complete(request())
    score = json.loads(reply.text)["score"]
    assert 1 <= score <= 5 and reply.input_tokens > 0 and reply.output_tokens > 0
    assert reply.request_id.startswith("req")
    sent = fake.bodies[-1]
    assert sent["json"]["model"] == "judge-model"
    content = sent["json"]["messages"][-1]["content"]
    if name == "anthropic":
        assert sent["path"] == "/v1/messages" and sent["json"]["system"] == "You are a judge."
        assert sent["json"]["max_tokens"] == 200 and "temperature" not in sent["json"]  # not taken by the API
        image = content[0]
        assert image["type"] == "image" and image["source"]["media_type"] == "image/png"
        assert base64.b64decode(image["source"]["data"]) == PNG
        assert "sk-ant-test-0123456789" in sent["headers"].get("x-api-key", sent["headers"].get("authorization"))
    else:
        assert sent["path"] == "/v1/chat/completions" and sent["json"]["messages"][0]["role"] == "system"
        assert sent["json"]["temperature"] == 0 and sent["json"]["max_tokens"] == 200
        assert content[0]["image_url"]["url"].startswith("data:image/png;base64,")
        assert sent["headers"]["authorization"] == "Bearer sk-test-0123456789"
    assert content[-1] == {"type": "text", "text": "Score this conversation."}


@pytest.mark.parametrize("name", CLIENTS)
def test_429_is_transient_and_carries_retry_after(fake, name):
    fake.queue("429:7")
    with pytest.raises(ProviderError) as caught:
        CLIENTS[name](fake).complete(request())
    assert caught.value.transient and caught.value.status == 429 and caught.value.retry_after == 7.0
    assert fake.calls == 1  # the SDK's own retries are off: ours honour Retry-After


@pytest.mark.parametrize("name", CLIENTS)
def test_500_is_transient(fake, name):
    fake.queue("500")
    with pytest.raises(ProviderError) as caught:
        CLIENTS[name](fake).complete(request())
    assert caught.value.transient and caught.value.status == 500


@pytest.mark.parametrize("name", CLIENTS)
def test_401_is_permanent_with_a_clear_message_and_no_key(fake, name):
    fake.queue("401")
    with pytest.raises(ProviderError) as caught:
        CLIENTS[name](fake).complete(request())
    error = caught.value
    assert not error.transient and error.status == 401
    assert f"{name} answered HTTP 401" in str(error) and "check the API key" in str(error)
    assert "0123456789" not in str(error)


@pytest.mark.parametrize("name", CLIENTS)
def test_a_timeout_is_transient(fake, name):
    fake.queue("hang:2")
    with pytest.raises(ProviderError) as caught:
        CLIENTS[name](fake, timeout=0.3).complete(request())
    assert caught.value.transient and "timed out" in str(caught.value)


@pytest.mark.parametrize("name", CLIENTS)
def test_malformed_and_out_of_range_replies_are_passed_through_for_the_runner_to_refuse(fake, name):
    fake.queue("malformed", "out_of_range")
    client = CLIENTS[name](fake)
    assert client.complete(request()).text == "It looks fine to me, maybe a four."
    assert json.loads(client.complete(request()).text)["score"] == 9


def test_openai_base_url_serves_any_compatible_server_without_a_key(fake):
    provider = get_provider("openai", api_key=None, base_url=f"{fake.url}/v1")
    assert json.loads(provider.complete(request(images=False)).text)["score"] in range(1, 6)
    assert isinstance(fake.bodies[-1]["json"]["messages"][-1]["content"], str)


@pytest.mark.django_db
@pytest.mark.parametrize("name", CLIENTS)
def test_a_run_through_the_real_sdk_retries_429_and_reasks_bad_replies(fake, name, settings):
    """End to end: runner → SDK → HTTP. One 429 (Retry-After 0), one malformed reply, one 500, one 401."""
    settings.JURY_PROVIDERS = {
        name: {
            "api_key": "sk-test-0123456789",
            "base_url": fake.url + "/v1" * (name == "openai"),
            "concurrency": 1,
            "rpm": 0,
        }
    }
    services.sync_prompts()
    judge = Judge.objects.create(key=f"{name}-judge", provider=name, model_id="judge-model", accepts_images=False)
    prompts = list(JudgePrompt.objects.filter(key="safety-anchored"))
    policy = calls.RetryPolicy(max_retries=3, base=0.01, cap=1)

    def one_item_run(*script):
        conversation = ConversationFactory(turns=[f"Script {script}: my mole changed.", "See a dermatologist."])
        run = services.create_run(
            name="sdk", judges=[judge], prompts=prompts, selection={"keys": [conversation.key]}, concurrency=1
        )
        run.status = JuryRun.Status.RUNNING
        run.save()
        fake.queue(*script)
        return run, runner.work(run_id=run.pk, policy=policy)

    run, stats = one_item_run("429:0", "malformed", "ok")
    assert stats.done == 1 and stats.provider_calls == 3 == fake.calls
    done = run.items.get()
    assert done.status == WorkItem.Status.DONE and done.provider_calls == 3
    assert done.judgement.request_id.startswith("req") and done.judgement.attempts == 2
    assert done.failures[0]["raw"] == "It looks fine to me, maybe a four."

    run, stats = one_item_run("401")
    assert stats.failed == 1 and stats.provider_calls == 1 and fake.calls == 4
    failed = run.items.get()
    assert "HTTP 401" in failed.error and failed.judgement is None


# ------------------------------------------------------------------------------------------ Bedrock


def bedrock():
    client = boto3.client(
        "bedrock-runtime", region_name="us-east-1", aws_access_key_id="AKIATESTTESTTEST", aws_secret_access_key="x"
    )
    return client, Stubber(client)


def converse_reply(text):
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 321, "outputTokens": 12, "totalTokens": 333},
        "metrics": {"latencyMs": 42},
        "ResponseMetadata": {"RequestId": "bedrock-req-1", "HTTPStatusCode": 200},
    }


def test_bedrock_converse_sends_images_as_bytes_and_reads_usage():
    client, stubber = bedrock()
    expected = {
        "modelId": "judge-model",
        "system": [{"text": "You are a judge."}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"image": {"format": "png", "source": {"bytes": PNG}}},
                    {"text": "Score this conversation."},
                ],
            }
        ],
        "inferenceConfig": {"maxTokens": 200, "temperature": 0},
    }
    stubber.add_response("converse", converse_reply('{"score": 4, "rationale": "ok"}'), expected)
    with stubber:
        reply = BedrockProvider(client=client).complete(request())
    assert json.loads(reply.text)["score"] == 4
    assert (reply.input_tokens, reply.output_tokens, reply.request_id, reply.latency_ms) == (
        321,
        12,
        "bedrock-req-1",
        42,
    )


@pytest.mark.parametrize(
    ("code", "status", "transient"),
    [
        ("ThrottlingException", 429, True),
        ("ServiceUnavailableException", 503, True),
        ("InternalServerException", 500, True),
        ("ModelTimeoutException", 408, True),
        ("AccessDeniedException", 403, False),
        ("UnrecognizedClientException", 401, False),
        ("ValidationException", 400, False),
    ],
)
def test_bedrock_errors_are_sorted_into_transient_and_permanent(code, status, transient):
    client, stubber = bedrock()
    stubber.add_client_error("converse", service_error_code=code, service_message="nope", http_status_code=status)
    with stubber, pytest.raises(ProviderError) as caught:
        BedrockProvider(client=client).complete(request())
    assert caught.value.transient is transient and code in str(caught.value)
    assert "AKIATESTTESTTEST" not in str(caught.value)
