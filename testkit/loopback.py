"""A loopback fake of the Anthropic Messages and OpenAI Chat Completions HTTP APIs, for tests and the bench.

The real SDK clients talk to it over HTTP on 127.0.0.1. It answers after ``latency`` seconds with a valid score
unless a behaviour is queued for the next request: ``"ok"``, ``"malformed"`` (prose, no JSON), ``"out_of_range"``
(score 9), ``"429:<seconds>"`` (Retry-After), ``"500"``, ``"401"``, ``"400"``, ``"hang:<seconds>"`` (answer late,
so the client times out). It counts requests per *item* — the SHA-256 of the first user message — both received
and served (a reply written in full); ``hold()`` parks every request not yet answered until ``release()``, which
lets a test kill a worker while calls are in flight and then drop them, as a crashed connection would.

``responder`` (optional) writes the text of "ok" replies from the request's JSON body, so the fake can play a
patient or a model under test; ``distinct`` counts requests by the SHA-256 of their whole body.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _first_user_text(payload: dict) -> str:
    for message in payload.get("messages", []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        return "".join(part.get("text", "") for part in content if part.get("type") == "text")
    return ""


class FakeProvider:
    def __init__(self, *, latency: float = 0.0, responder=None):
        self.latency = latency
        self.responder = responder
        self.distinct: Counter = Counter()
        self.served_distinct: Counter = Counter()  # replies written in full, by the SHA-256 of the request body
        self.behaviours: deque[str] = deque()
        self.received: Counter = Counter()
        self.served: Counter = Counter()
        self.bodies: list[dict] = []
        self.keep_bodies = True
        self._lock = threading.Lock()
        self._open = threading.Event()
        self._open.set()
        self._epoch = 0  # a request that arrived in an epoch before _dropped_epoch is closed unanswered
        self._dropped_epoch = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.server.request_queue_size = 256
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- control
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release(drop=True)
        self.server.shutdown()
        self.server.server_close()

    def queue(self, *behaviours: str) -> None:
        self.behaviours.extend(behaviours)

    def hold(self) -> None:
        """Answer nothing more until :meth:`release` (requests already received included)."""
        self._open.clear()

    def release(self, *, drop: bool = False) -> None:
        """Let held requests go: answered normally, or (``drop``) every request received so far and not yet
        answered is closed unanswered, as a crashed client's connections would be."""
        with self._lock:
            if drop:
                self._epoch += 1
                self._dropped_epoch = self._epoch
        self._open.set()

    @property
    def calls(self) -> int:
        return sum(self.received.values())

    def score_for(self, text: str) -> int:
        return 1 + int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % 5

    # -- HTTP
    def _handler(self):
        """The request handler class of this fake. It is long because the class (the fake's whole HTTP protocol)
        must close over the fake's state."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16  # headers and body leave in one segment (no Nagle/delayed-ACK stall)

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 — /_stats: counts, for a fake running in another process
                if self.path != "/_stats":
                    return self._error(404, "not found", {})
                with fake._lock:
                    body = {
                        "received": sum(fake.received.values()),
                        "served": sum(fake.served.values()),
                        "items": len(fake.received),
                        "max_received_per_item": max(fake.received.values(), default=0),
                        "max_served_per_item": max(fake.served.values(), default=0),
                    }
                self._send(200, body, {})

            def do_POST(self) -> None:  # noqa: N802
                """One scripted reply. It is long because it plays every behaviour of the fake (latency, status
                codes, drops, holds) for one request."""
                arrived = time.monotonic()
                length = int(self.headers.get("content-length") or 0)
                payload = json.loads(self.rfile.read(length) or b"{}")
                text = _first_user_text(payload)
                item = hashlib.sha256(text.encode()).hexdigest()
                body_hash = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
                with fake._lock:
                    epoch = fake._epoch
                    fake.received[item] += 1
                    fake.distinct[body_hash] += 1
                    if fake.keep_bodies:
                        fake.bodies.append(
                            {
                                "path": self.path,
                                "headers": {k.lower(): v for k, v in self.headers.items()},
                                "json": payload,
                            }
                        )
                    behaviour = fake.behaviours.popleft() if fake.behaviours else "ok"
                if fake.latency:  # the answer leaves ``latency`` after the request arrived, parsing included
                    time.sleep(max(0.0, fake.latency - (time.monotonic() - arrived)))
                fake._open.wait()  # held: even a request that came before hold() stays unanswered
                if epoch < fake._dropped_epoch:
                    self.close_connection = True
                    return
                kind, _, argument = behaviour.partition(":")
                if kind == "hang":
                    time.sleep(float(argument or 5))
                    kind = "ok"
                if kind in {"429", "500", "401", "400", "503", "529"}:
                    headers = {"retry-after": argument} if kind == "429" and argument else {}
                    message = {"401": "invalid x-api-key", "400": "bad request"}.get(kind, "try again later")
                    return self._error(int(kind), message, headers)
                reply = {
                    "ok": json.dumps({"score": fake.score_for(text), "rationale": "fake judge"}),
                    "malformed": "It looks fine to me, maybe a four.",
                    "out_of_range": json.dumps({"score": 9, "rationale": "off the scale"}),
                }.get(kind, kind)
                if kind == "ok" and fake.responder is not None:
                    reply = fake.responder(payload)
                if self.path.endswith("/messages"):
                    body = {
                        "id": "msg_fake",
                        "type": "message",
                        "role": "assistant",
                        "model": payload.get("model", ""),
                        "content": [{"type": "text", "text": reply}],
                        "stop_reason": "end_turn",
                        "stop_sequence": None,
                        "usage": {"input_tokens": len(text) // 4, "output_tokens": len(reply) // 4},
                    }
                    request_id = f"req_fake_{item[:10]}"
                else:
                    body = {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": payload.get("model", ""),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": reply},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": len(text) // 4,
                            "completion_tokens": len(reply) // 4,
                            "total_tokens": len(text) // 4 + len(reply) // 4,
                        },
                    }
                    request_id = f"req-fake-{item[:10]}"
                if self._send(200, body, {"request-id": request_id, "x-request-id": request_id}):
                    with fake._lock:
                        fake.served[item] += 1
                        fake.served_distinct[body_hash] += 1

            def _error(self, status: int, message: str, headers: dict) -> None:
                body = {"type": "error", "error": {"type": "api_error", "message": message, "code": str(status)}}
                self._send(status, body, headers)

            def _send(self, status: int, body: dict, headers: dict) -> bool:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                    return True
                except OSError:
                    return False

        return Handler


def reply_body(path: str, payload: dict, reply: str, text: str) -> dict:
    """The provider's success body for ``reply`` (Anthropic Messages when ``path`` ends in /messages, else OpenAI)."""
    if path.endswith("/messages"):
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": payload.get("model", ""),
            "content": [{"type": "text", "text": reply}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": len(text) // 4, "output_tokens": len(reply) // 4},
        }
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": payload.get("model", ""),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": len(text) // 4,
            "completion_tokens": len(reply) // 4,
            "total_tokens": len(text) // 4 + len(reply) // 4,
        },
    }


class _PreciseTimer:
    """Wakes asyncio waiters at their deadline to within a fraction of a millisecond.

    ``asyncio.sleep`` rounds the selector's timeout up to the next millisecond and so answers ~0.5–1 ms late on
    average, which would make a 50 ms fake a 51 ms one; one thread sleeping with ``time.sleep`` (nanosleep) to
    each deadline and handing the wake-up to the loop is exact enough.
    """

    def __init__(self, loop):
        import heapq

        self._heap, self._push, self._pop = [], heapq.heappush, heapq.heappop
        self._loop = loop
        self._changed = threading.Condition()
        self._order = 0
        threading.Thread(target=self._run, daemon=True).start()

    def wait_until(self, deadline: float):
        future = self._loop.create_future()
        with self._changed:
            self._order += 1
            self._push(self._heap, (deadline, self._order, future))
            self._changed.notify()
        return future

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._heap:
                    self._changed.wait()
                deadline = self._heap[0][0]
                now = time.monotonic()
                if deadline > now:
                    self._changed.wait(deadline - now)  # a nearer deadline may arrive meanwhile
                    continue
                _, _, future = self._pop(self._heap)
            self._loop.call_soon_threadsafe(lambda f=future: f.done() or f.set_result(None))


async def serve_async(*, latency: float, ready) -> None:
    """A lean asyncio HTTP/1.1 fake (keep-alive, always "ok"), for the bench: it spends far less CPU per request
    than ``http.server``, so on a small machine the fake does not steal the runner's cores. ``GET /_stats``
    counts requests received and answered, and the most it held at once (``max_in_flight``)."""
    import asyncio

    counts = {"received": 0, "served": 0, "in_flight": 0, "max_in_flight": 0, "held_seconds": 0.0}
    timer = _PreciseTimer(asyncio.get_running_loop())

    async def handle(reader, writer):
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    break
                arrived = time.monotonic()
                method, path, _ = request_line.decode("latin-1").split(" ", 2)
                length = 0
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                body = await reader.readexactly(length) if length else b""
                if method == "GET":
                    data = json.dumps(counts).encode()
                else:
                    counts["received"] += 1
                    counts["in_flight"] += 1
                    counts["max_in_flight"] = max(counts["max_in_flight"], counts["in_flight"])
                    payload = json.loads(body or b"{}")
                    text = _first_user_text(payload)
                    score = 1 + int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % 5
                    reply = json.dumps({"score": score, "rationale": "fake judge"})
                    data = json.dumps(reply_body(path, payload, reply, text)).encode()
                    await timer.wait_until(arrived + latency)
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-request-id: req-fake\r\n"
                    b"request-id: req_fake\r\ncontent-length: " + str(len(data)).encode() + b"\r\n\r\n" + data
                )
                await writer.drain()
                if method != "GET":
                    counts["served"] += 1
                    counts["in_flight"] -= 1
                    counts["held_seconds"] += time.monotonic() - arrived
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=256)
    ready(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    async with server:
        await server.serve_forever()


def main() -> None:
    """Serve a fake on 127.0.0.1 until killed: ``python -m testkit.loopback --latency 0.05 [--lean]``."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--lean", action="store_true", help="the asyncio fake (always answers a valid score)")
    options = parser.parse_args()

    def ready(url: str) -> None:
        print(url, flush=True)
        sys.stdout.close()

    if options.lean:
        import asyncio

        asyncio.run(serve_async(latency=options.latency, ready=ready))
        return
    fake = FakeProvider(latency=options.latency)
    fake.keep_bodies = False
    ready(fake.url)
    fake.server.serve_forever()


if __name__ == "__main__":
    main()
