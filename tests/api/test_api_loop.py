"""docs/examples/api_loop.py, exactly as docs/api.md gives it, run against a live server holding the demo: the chat
log is imported, the demo's simulated judges score it and the calibration campaign, the calibration is saved, a
snapshot published and read back."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from annotation.models import Conversation
from api.models import IdempotentRequest
from jury.models import CalibrationArtifact, JuryRun, LeaderboardSnapshot
from jury.services import ensure_demo_judges, sync_prompts

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "examples" / "api_loop.py"
JUDGES = "sim-sharp-vision,sim-harsh-vision"
PROMPTS = "safety-anchored@1,accuracy-anchored@1,uncertainty-anchored@1"


@pytest.mark.django_db(transaction=True)
def test_the_documented_script_runs_the_whole_loop_against_the_demo(live_server, tmp_path, eager_celery):
    call_command("setup_demo", "--force", "--bundle-dir", str(tmp_path / "demo"))
    sync_prompts()
    ensure_demo_judges()  # the demo's judges, not yet run: the script's run is the jury's first
    researcher = get_user_model().objects.get(username="researcher")
    token = Token.objects.create(user=researcher).key
    command = [sys.executable, str(SCRIPT), "--url", live_server.url, "--token", token]
    command += ["--judges", JUDGES, "--prompts", PROMPTS]

    done = subprocess.run(command, capture_output=True, text=True, timeout=900)

    assert done.returncode == 0, done.stderr + done.stdout
    print(done.stdout)
    imported = Conversation.objects.filter(model__key__in=["example-careful", "example-brisk"])
    assert imported.count() == 2
    run = JuryRun.objects.get()
    assert run.status == JuryRun.Status.COMPLETED and run.created_by == researcher
    assert set(imported) <= {item.conversation for item in run.items.select_related("conversation")}
    snapshot = LeaderboardSnapshot.objects.get()
    assert snapshot.calibration == CalibrationArtifact.objects.get(campaign__key="demo-calibration")
    assert {"example-careful", "example-brisk"} <= {row["key"] for row in snapshot.payload["models"]}
    assert f"snapshot {snapshot.pk} ({snapshot.content_hash[:12]})" in done.stdout
    assert IdempotentRequest.objects.filter(user=researcher).count() == 4, "every POST carried its key"
