"""Benchmark: the clinician workspace at benchmark scale.

Builds 10,000 conversations (6 turns each, 100 cases with an image) and 20 clinicians in one campaign (k = 3),
then prints p50/p95 server time for the workspace page, an autosave and ``claim_next``: in process (Django test
client, service call) and over HTTP against a running server started here on a loopback port.

    .venv/bin/python bench/annotate.py            # embedded default: SQLite in a scratch folder
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/annotate.py
"""

import http.cookiejar
import io
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CONVERSATIONS, CASES, CLINICIANS, SAMPLES = 10_000, 100, 20, 200
PASSWORD = "bench-password-123"


def percentiles(label: str, seconds: list[float]) -> None:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[max(0, round(0.95 * len(ms)) - 1)]
    print(f"  {label:<28} p50 {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms   (n={len(ms)})")


def build(work: Path) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from PIL import Image as PILImage

    from annotation.models import Case, Conversation, Image, ModelUnderTest, PatientProfile, Rubric, Turn
    from annotation.services import create_campaign

    buffer = io.BytesIO()
    PILImage.new("RGB", (1024, 768), (90, 90, 90)).save(buffer, format="PNG")
    stored = default_storage.save("bench/image.png", ContentFile(buffer.getvalue()))
    model = ModelUnderTest.objects.create(key="bench-model", name="Bench model", family="Claude")
    cases = Case.objects.bulk_create(
        Case(key=f"case-{i:04d}", title=f"Case {i}", specialty="radiology", diagnosis="x") for i in range(CASES)
    )
    PatientProfile.objects.bulk_create(
        PatientProfile(
            case=case,
            format="flat",
            raw={"age": 50},
            summary={
                "age": 50,
                "sex": "female",
                "conditions": ["hypertension", "type 2 diabetes"],
                "medications": ["metformin 500 mg"],
                "allergies": ["penicillin"],
                "observations": [{"name": "HbA1c", "value": "7.1 %", "date": "2026-01-01"}],
            },
        )
        for case in cases
    )
    Image.objects.bulk_create(
        Image(
            case=case,
            bundle_path="images/x.png",
            original=stored,
            original_format="PNG",
            derivative=stored,
            width=1024,
            height=768,
            checksum="0" * 64,
            source="bench",
            license="CC0-1.0",
        )
        for case in cases
    )
    conversations = Conversation.objects.bulk_create(
        (
            Conversation(key=f"conv-{i:05d}", case=cases[i % CASES], model=model, condition="full")
            for i in range(CONVERSATIONS)
        ),
        batch_size=2000,
    )
    Turn.objects.bulk_create(
        (
            Turn(conversation=c, index=t, role="patient" if t % 2 == 0 else "assistant", content="Words " * 60)
            for c in conversations
            for t in range(6)
        ),
        batch_size=5000,
    )
    group, _ = Group.objects.get_or_create(name="clinician")
    user_model = get_user_model()
    clinicians = [user_model.objects.create_user(f"bench{i}", password=PASSWORD) for i in range(CLINICIANS)]
    for clinician in clinicians:
        clinician.groups.add(group)
    create_campaign(
        key="bench",
        name="Bench",
        rubric=Rubric.objects.get(is_default=True),
        conversations=conversations,
        clinicians=clinicians,
        overlap=3,
    )


def in_process() -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from annotation.models import Campaign
    from annotation.services import AnnotationInput, claim_next, submit

    campaign = Campaign.objects.get(key="bench")
    clinicians = list(get_user_model().objects.filter(username__startswith="bench").order_by("pk"))
    claims, pages, saves = [], [], []
    client = Client()
    full = {"safety": 4, "accuracy": 4, "uncertainty": 4}
    for i in range(SAMPLES):
        clinician = clinicians[i % len(clinicians)]
        started = time.perf_counter()
        assignment = claim_next(clinician=clinician, campaign=campaign)
        claims.append(time.perf_counter() - started)
        client.force_login(clinician)
        started = time.perf_counter()
        assert client.get(f"/work/item/{assignment.pk}/").status_code == 200
        pages.append(time.perf_counter() - started)
        started = time.perf_counter()
        response = client.post(
            f"/work/item/{assignment.pk}/save/", {"score-safety": "4", "version": "0"}, headers={"HX-Request": "true"}
        )
        saves.append(time.perf_counter() - started)
        assert response.status_code == 200, response.content
        submit(
            assignment=assignment,
            clinician=clinician,
            version=1,
            data=AnnotationInput(scores=full, rationale="", flags=[]),
        )
    print("in process (Django test client / service call):")
    percentiles("claim_next", claims)
    percentiles("workspace page", pages)
    percentiles("autosave", saves)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def over_http(env: dict) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--nothreading"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        claims, pages, saves = [], [], []
        for i in range(SAMPLES // 4):
            jar = http.cookiejar.CookieJar()
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
            login = opener.open(f"{base}/login/").read().decode()
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login).group(1)
            data = urllib.parse.urlencode(
                {"username": f"bench{i % CLINICIANS}", "password": PASSWORD, "csrfmiddlewaretoken": token}
            ).encode()
            opener.open(urllib.request.Request(f"{base}/login/", data=data, headers={"Referer": f"{base}/login/"}))
            started = time.perf_counter()
            response = opener.open(f"{base}/work/bench/next/")  # claims and redirects to the item page
            item_url = response.geturl()
            claims.append(time.perf_counter() - started)
            started = time.perf_counter()
            page = opener.open(item_url).read().decode()
            pages.append(time.perf_counter() - started)
            csrf = next(c.value for c in jar if c.name == "csrftoken")
            version = re.search(r'id="version" value="(\d+)"', page).group(1)
            body = urllib.parse.urlencode({"score-accuracy": "3", "version": version}).encode()
            request = urllib.request.Request(
                f"{item_url}save/", data=body, headers={"HX-Request": "true", "X-CSRFToken": csrf, "Referer": item_url}
            )
            started = time.perf_counter()
            opener.open(request).read()
            saves.append(time.perf_counter() - started)
        print(f"over HTTP (runserver on 127.0.0.1:{port}, one client; claim includes the redirect to the page):")
        percentiles("claim + page", claims)
        percentiles("workspace page", pages)
        percentiles("autosave", saves)
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="imcbench-annotate-"))
    env = dict(
        os.environ,
        IMCBENCH_DATA_DIR=str(work),
        MEDIA_ROOT=str(work / "media"),
        DEBUG="1",
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        DJANGO_SETTINGS_MODULE="imcbench_site.settings",
    )
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    build(work)
    print(
        f"built {CONVERSATIONS:,} conversations, {CLINICIANS} clinicians, k = 3 on {connection.vendor} "
        f"in {time.perf_counter() - started:.1f} s"
    )
    in_process()
    connection.close()
    over_http(env)


if __name__ == "__main__":
    main()
