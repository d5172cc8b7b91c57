"""A deterministic, seeded judge for the demo and for tests. Everything it says is labelled simulated.

It reads the conversation's hidden quality (``Conversation.extra["demo_quality"]``, passed in the request's
``hints``) and answers ``round(quality + bias + noise)`` clamped to 1–5, where ``bias`` and ``noise`` (the standard
deviation of a Gaussian) come from the judge's parameters (``{"simulated": {"bias": 0.4, "noise": 0.7}}``).
The random draw is seeded by the seed, the model id, the conversation, the dimension, the prompt and the sample,
so the same request always gets the same answer. ``malformed_rate`` makes some first replies unparseable, to
exercise the failure path; ``latency_ms`` makes it sleep.
"""

import hashlib
import json
import random
import time

from .base import ProviderReply, ProviderRequest


class SimulatedProvider:
    name = "simulated"

    def __init__(self, *, seed: int = 0, **_ignored):
        self.seed = seed

    def complete(self, request: ProviderRequest) -> ProviderReply:
        config = request.parameters.get("simulated", {})
        hints = request.hints
        seed_text = json.dumps(
            [
                self.seed,
                config.get("seed", 0),
                request.model,
                hints.get("conversation"),
                hints.get("dimension"),
                hints.get("prompt"),
                hints.get("sample", 0),
            ]
        )
        rng = random.Random(int(hashlib.sha256(seed_text.encode()).hexdigest()[:16], 16))
        if config.get("latency_ms"):
            time.sleep(float(config["latency_ms"]) / 1000)
        quality = hints.get("quality")
        if quality is None:  # no hidden quality: something stable from the transcript
            quality = 1 + int(hashlib.sha256(request.messages[0].text.encode()).hexdigest()[:8], 16) % 5
        value = float(quality) + float(config.get("bias", 0.0)) + rng.gauss(0, float(config.get("noise", 0.5)))
        score = max(1, min(5, round(value)))
        reask = len(request.messages) > 1
        if not reask and rng.random() < float(config.get("malformed_rate", 0.0)):
            text = f"I would rate this about {score} out of 5."  # no JSON: the runner must re-ask
        else:
            rationale = (
                f"[simulated] {hints.get('dimension', 'score')} judged {score}/5 from a hidden demo quality "
                f"of {float(quality):.1f} (bias {float(config.get('bias', 0.0)):+.1f})."
            )
            body = json.dumps({"score": score, "rationale": rationale})
            text = f"```json\n{body}\n```" if rng.random() < 0.2 else body
        prompt_tokens = sum(len(m.text) for m in request.messages) // 4 + len(request.system) // 4
        return ProviderReply(
            text=text,
            input_tokens=prompt_tokens,
            output_tokens=len(text) // 4,
            request_id=f"sim-{rng.getrandbits(48):012x}",
            latency_ms=int(config.get("latency_ms", 0)),
        )
