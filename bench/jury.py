"""Benchmark: 2,000 jury judgements through the real OpenAI SDK client against a loopback fake provider.

The fake (``testkit.loopback``, in its own process) answers every call after 50 ms. The run's concurrency
limit is 16 calls in flight in total over ``--processes`` worker processes (as Celery's prefork pool would run
them), held by the shared Redis limiter (``--limiter redis``, the default when Redis answers on
``JURY_LIMITER_URL`` or 127.0.0.1:6379) or, with ``--limiter local``, as ``16 / processes`` per process — so no
runner can beat 16 / 0.05 s = 320 judgements per second. The fake reports the most requests it held at once, which
shows the limit held. Prints the achieved throughput as a fraction of that bound (goal: at least 90 %), then runs
the identical run again, which must make 0 provider calls. ``--rounds`` (3) runs of fresh judgements each, the
median reported: on a small shared machine one run varies by a few percent. Runs on a temporary SQLite database
unless DATABASE_URL is set; the clock runs from the run's start to its last judgement written.
``BENCH_TIMING=1`` prints, per worker, the CPU and wall seconds of each step (claiming, preparing, calls, writing).
The fake is the lean asyncio one (``--lean``); ``--http-server-fake`` uses the ``http.server`` one instead.

    .venv/bin/python bench/jury.py [--items 2000] [--latency 0.05] [--concurrency 16] [--processes 2]
                                   [--rounds 3] [--limiter redis|local]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def stats(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/_stats", timeout=5) as response:
        return json.load(response)


def configure(url: str, data_dir: str, limiter_url: str) -> None:
    os.environ["IMCBENCH_DATA_DIR"] = data_dir
    os.environ["MEDIA_ROOT"] = str(Path(data_dir) / "media")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imcbench_site.settings")
    os.environ["OPENAI_API_KEY"] = "bench-not-a-key"
    os.environ["OPENAI_BASE_URL"] = f"{url}/v1"
    os.environ["JURY_OPENAI_RPM"] = "0"
    os.environ["JURY_LIMITER_URL"] = limiter_url
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ.pop("CELERY_BROKER_URL", None)
    import django

    django.setup()


def limiter_url(choice: str | None) -> str:
    """A Redis database of the bench's own for the shared limiter, or "local" (per process limits)."""
    if choice == "local":
        return "local"
    import redis

    url = os.environ.get("JURY_LIMITER_URL") or "redis://127.0.0.1:6379/12"
    try:
        redis.Redis.from_url(url).flushdb()
    except redis.RedisError as error:
        if choice == "redis":
            sys.exit(f"Redis at {url} does not answer ({error}); use --limiter local")
        return "local"
    return url


def worker(run_id: int) -> None:
    """One judging process: warm up, wait for the run to start, work until no item is left."""
    from engine.providers import get_provider
    from jury import runner
    from jury.models import JuryRun

    get_provider("openai")  # imports the SDK before the clock starts
    print("ready", flush=True)
    while JuryRun.objects.filter(pk=run_id, status=JuryRun.Status.RUNNING).count() == 0:
        time.sleep(0.01)
    if os.environ.get("BENCH_TIMING"):  # where each worker's time goes: CPU and wall seconds per step
        import collections
        import functools

        spent = collections.Counter()

        def timed(owner, name):
            original = getattr(owner, name)

            @functools.wraps(original)
            def wrapper(*args, **kwargs):
                t, w = time.thread_time(), time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    spent[name] += time.thread_time() - t
                    spent[name + "~wall"] += time.perf_counter() - w

            setattr(owner, name, wrapper)

        for name in ("_flush", "_prepare", "_serve_from_cache", "_collect", "_submit", "_refresh", "_renew_leases"):
            timed(runner.Runner, name)
        timed(runner, "claim")
        timed(runner, "wait")
        timed(runner, "call_with_retries")
        t0, c0 = time.perf_counter(), time.process_time()
        result = runner.work(run_id=run_id)
        spent = {k: round(v, 2) for k, v in spent.items()}
        print(f"wall {time.perf_counter() - t0:.2f} cpu {time.process_time() - c0:.2f}", spent, file=sys.stderr)
    else:
        result = runner.work(run_id=run_id)
    print(
        json.dumps({"done": result.done, "failed": result.failed, "cached": result.cached, "finished": time.time()}),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=16, help="Calls in flight, all processes together")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument(
        "--http-server-fake", dest="lean", action="store_false", help="Use the http.server fake (more CPU per call)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="Runs of --items judgements each; the median counts")
    parser.add_argument("--limiter", choices=("redis", "local"), help="Where the limit is held (default: redis)")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--limiter-url", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        configure(options.url, options.data_dir, options.limiter_url)
        return worker(options.worker)
    options.limiter_url = limiter_url(options.limiter)
    if options.limiter_url == "local" and options.concurrency % options.processes:
        parser.error("--concurrency must be a multiple of --processes with --limiter local")

    fake = subprocess.Popen(
        [sys.executable, "-m", "testkit.loopback", "--latency", str(options.latency)]
        + (["--lean"] if options.lean else []),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    url = fake.stdout.readline().strip()
    try:
        run_bench(options, url)
    finally:
        fake.terminate()
        fake.wait(timeout=10)


def run_bench(options, url: str) -> None:
    data_dir = tempfile.mkdtemp(prefix="imcbench-jury-bench-")
    configure(url, data_dir, options.limiter_url)
    from django.core.management import call_command
    from django.db import connection

    from annotation.models import Case, Conversation, ModelUnderTest, Turn
    from jury import runner, services
    from jury.models import Judge, JudgePrompt, JuryRun, WorkItem

    call_command("migrate", verbosity=0)
    services.sync_prompts()
    prompts = list(JudgePrompt.objects.exclude(template=""))
    count = -(-options.items // len(prompts))
    for round_index in range(options.rounds):  # each round judges conversations of its own: nothing cached
        model = ModelUnderTest.objects.create(key=f"bench-model-{round_index}", name="Bench model", family="Bench")
        cases = Case.objects.bulk_create(
            Case(key=f"bench-case-{round_index}-{i:05d}", title=f"Case {i}") for i in range(count)
        )
        conversations = Conversation.objects.bulk_create(
            Conversation(key=f"bench-conv-{round_index}-{i:05d}", case=case, model=model, condition="full")
            for i, case in enumerate(cases)
        )
        Turn.objects.bulk_create(
            Turn(conversation=c, index=i, role=("patient", "assistant")[i % 2], content=f"Turn {i} of {c.key}.")
            for c in conversations
            for i in range(4)
        )
    judge = Judge.objects.create(
        key="bench-openai",
        provider="openai",
        model_id="fake-judge",
        parameters={"temperature": 0, "max_tokens": 300},
        input_price_per_mtok="2.50",
        output_price_per_mtok="10.00",
    )
    shared = options.limiter_url != "local"
    per_process = options.concurrency // options.processes

    def one_run(name: str, round_index: int):
        limit = options.concurrency if shared else per_process
        selection = {"models": [f"bench-model-{round_index}"]}
        run = services.create_run(name=name, judges=[judge], prompts=prompts, selection=selection, concurrency=limit)
        extra = list(run.items.order_by("-id").values_list("id", flat=True)[: run.items.count() - options.items])
        WorkItem.objects.filter(id__in=extra).delete()
        connection.close()
        workers = [
            subprocess.Popen(
                [sys.executable, __file__, "--worker", str(run.pk), "--url", url, "--data-dir", data_dir]
                + ["--limiter-url", options.limiter_url],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(options.processes)
        ]
        for process in workers:
            assert process.stdout.readline().strip() == "ready"
        before = stats(url)
        started = time.time()
        JuryRun.objects.filter(pk=run.pk).update(status=JuryRun.Status.RUNNING)
        results = [json.loads(process.communicate()[0].strip().splitlines()[-1]) for process in workers]
        # The run ends when its last judgement is written, not when the worker processes have exited.
        seconds = max(r["finished"] for r in results) - started
        runner.finish_if_done(run_id=run.pk)
        run.refresh_from_db()
        after = stats(url)
        return {
            "run": run,
            "done": sum(r["done"] for r in results),
            "cached": sum(r["cached"] for r in results),
            "seconds": seconds,
            "calls": after["received"] - before["received"],
            "held": (after.get("held_seconds", 0) - before.get("held_seconds", 0))
            / max(1, after["served"] - before["served"]),
            "most": after.get("max_in_flight", "?"),
        }

    bound = options.concurrency / options.latency
    print(f"database              {connection.vendor}")
    if shared:
        print(f"limit                 {options.concurrency} calls in flight over {options.processes} processes (Redis)")
    else:
        print(f"limit                 {options.processes} processes x {per_process} calls in flight (per process)")
    print(f"bound                 {options.concurrency} / {options.latency:g} s = {bound:.0f} judgements/s")
    fractions = []
    for round_index in range(options.rounds):
        result = one_run(f"bench {round_index + 1}", round_index)
        rate = result["done"] / result["seconds"]
        fractions.append(rate / bound)
        print(
            f"round {round_index + 1}               {result['done']} done, {result['calls']} provider calls, "
            f"run {result['run'].status}, {result['seconds']:.2f} s: {rate:.1f}/s = {100 * rate / bound:.1f} % "
            f"of the bound (fake held each request {1000 * result['held']:.2f} ms)"
        )
    print(f"most at the provider  {result['most']} requests at once")
    print(f"throughput (median)   {100 * statistics.median(fractions):.1f} % of the bound over {options.rounds} rounds")
    again = one_run("bench rerun", 0)
    print(
        f"identical rerun       {again['done']} done in {again['seconds']:.2f} s, {again['cached']} from cache, "
        f"{again['calls']} provider calls"
    )


if __name__ == "__main__":
    main()
