"""Benchmark: stream 1,000,000 judgement rows as CSV and as Parquet; print time and peak memory growth.

Builds 10,000 conversations × 3 judges × 3 prompts × 3 dimensions × 4 samples (1,080,000 judgements) in a
scratch SQLite database, then measures each format in a fresh process (its peak RSS over its own baseline).

    .venv/bin/python bench/export.py
"""

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CONVERSATIONS, SAMPLES = 10_000, 4


def setup_django(work: str) -> None:
    os.environ.update(
        IMCBENCH_DATA_DIR=work, MEDIA_ROOT=f"{work}/media", DJANGO_SETTINGS_MODULE="imcbench_site.settings"
    )
    import django

    django.setup()


def build() -> int:
    from annotation.models import Case, Conversation, ModelUnderTest
    from jury.models import Judge, Judgement, JudgePrompt

    model = ModelUnderTest.objects.create(key="bench", name="Bench", family="Claude")
    cases = Case.objects.bulk_create(Case(key=f"case-{i:04d}", title=str(i)) for i in range(100))
    conversations = Conversation.objects.bulk_create(
        (
            Conversation(key=f"conv-{i:05d}", case=cases[i % 100], model=model, condition="full")
            for i in range(CONVERSATIONS)
        ),
        batch_size=5000,
    )
    judges = [Judge.objects.create(key=f"judge-{j}", provider="simulated", model_id=f"sim-{j}") for j in range(3)]
    prompts = [
        JudgePrompt.objects.create(key=f"{d}-{style}", version="1", dimension=d)
        for d in ("safety", "accuracy", "uncertainty")
        for style in ("anchored", "checklist", "critique")
    ]
    batch = []
    total = 0
    for conversation in conversations:
        for judge in judges:
            for prompt in prompts:
                for sample in range(SAMPLES):
                    batch.append(
                        Judgement(
                            conversation=conversation,
                            judge=judge,
                            prompt=prompt,
                            dimension=prompt.dimension,
                            sample_index=sample,
                            score=1 + (conversation.pk + sample) % 5,
                        )
                    )
        if len(batch) >= 50_000:
            Judgement.objects.bulk_create(batch, batch_size=10_000)
            total += len(batch)
            batch.clear()
    Judgement.objects.bulk_create(batch, batch_size=10_000)
    return total + len(batch)


def peak_rss_mib() -> float:
    """This process's resident-set high-water mark (VmHWM); unlike ru_maxrss it is not inherited across exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(fmt: str) -> None:
    import pyarrow.parquet  # noqa: F401 — imported before the baseline so the library itself is not counted

    from jury.results import exports

    baseline = peak_rss_mib()
    started = time.perf_counter()
    columns, rows = exports.judgement_rows()
    size = 0
    with open(os.devnull, "wb") as sink:
        for chunk in exports.stream(fmt, columns, rows, exports.provenance(kind="judgements")):
            sink.write(chunk)
            size += len(chunk)
    seconds = time.perf_counter() - started
    growth = peak_rss_mib() - baseline
    print(
        f"  {fmt:<8} {seconds:7.1f} s   {size / 2**20:8.1f} MiB written   peak memory growth {growth:6.1f} MiB "
        f"(baseline {baseline:.0f} MiB)"
    )


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--measure":
        setup_django(os.environ["IMCBENCH_DATA_DIR"])
        measure(sys.argv[2])
        return
    work = tempfile.mkdtemp(prefix="imcbench-export-")
    setup_django(work)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    rows = build()
    print(f"built {rows:,} judgement rows in {time.perf_counter() - started:.0f} s (sqlite, {work})")
    for fmt in ("csv", "parquet"):
        subprocess.run([sys.executable, __file__, "--measure", fmt], check=True, env=dict(os.environ))


if __name__ == "__main__":
    main()
