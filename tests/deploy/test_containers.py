"""compose.yaml and the Dockerfile: the same processes as the Procfile, and only settings the code reads."""

import re
import shlex
from pathlib import Path

import pytest
import yaml

from tests.deploy.test_procfile import procfile

ROOT = Path(__file__).resolve().parents[2]
INFRASTRUCTURE = {"postgres", "redis"}
# Where the app's processes read environment variables.
READERS = [
    ROOT / "imcbench_site" / "settings.py",
    ROOT / "imcbench_site" / "celery.py",
    ROOT / "gunicorn.conf.py",
    ROOT / "imcbench_site" / "management" / "commands" / "deploy_setup.py",
]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def read_names() -> set[str]:
    text = "\n".join(path.read_text() for path in READERS)
    return set(re.findall(r"""(?:env_\w+|os\.environ\.get|environ\.setdefault)\(\s*["'](\w+)["']""", text))


def test_compose_runs_postgres_redis_and_every_procfile_process(compose):
    assert set(compose["services"]) == INFRASTRUCTURE | set(procfile())


def test_each_app_service_runs_its_procfile_command_from_the_image(compose):
    for name, command in procfile().items():
        service = compose["services"][name]
        assert shlex.split(service["command"]) == shlex.split(command), name
        assert service["build"] == "." and service["image"] == "imcbench-studio", name


def test_app_services_wait_for_healthy_services_and_the_release(compose):
    services = compose["services"]
    for name in INFRASTRUCTURE:
        assert services[name]["healthcheck"]["test"], name
    for name in set(procfile()):
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == depends["redis"]["condition"] == "service_healthy"
        if name != "release":
            assert depends["release"]["condition"] == "service_completed_successfully", name
    assert services["release"]["restart"] == "no"


def test_every_variable_compose_sets_is_read_by_the_app(compose):
    known = read_names()
    assert {"SECRET_KEY", "DATABASE_URL", "GUNICORN_BIND", "DJANGO_SUPERUSER_PASSWORD"} <= known  # the scan works
    for name in set(procfile()):
        unknown = set(compose["services"][name]["environment"]) - known
        assert not unknown, f"{name} sets variables nothing reads: {sorted(unknown)}"


def test_a_deployment_must_name_its_secrets(compose):
    environment = compose["services"]["web"]["environment"]
    assert environment["DEBUG"] == "0"
    for name in ("SECRET_KEY", "ALLOWED_HOSTS"):
        assert ":?" in environment[name], f"{name} must be required, not defaulted"
    assert environment["CELERY_BROKER_URL"].startswith("redis://redis:")
    assert environment["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in environment["DATABASE_URL"]


def test_media_and_data_are_volumes_that_outlive_containers(compose):
    for name in set(procfile()):
        mounts = {mount.split(":")[1] for mount in compose["services"][name]["volumes"]}
        assert {"/srv/imcbench/media", "/srv/imcbench/data"} <= mounts, name
    assert {"pgdata", "media", "data"} <= set(compose["volumes"])


def test_dockerfile_builds_from_slim_python_with_the_pins_and_collects_static():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.12-slim\b", text, re.MULTILINE)
    extras = re.search(r'-c constraints\.txt -e "\.\[([a-z,]+)\]"', text).group(1).split(",")
    assert {"deploy", "providers", "inspect"} <= set(extras)
    assert "collectstatic --noinput" in text
    assert "USER imcbench" in text
    command = re.search(r"^CMD (.+)$", text, re.MULTILINE).group(1)
    assert " ".join(yaml.safe_load(command)) == procfile()["web"]
    env = dict(re.findall(r"(\w+)=(\S+)", text[text.index("FROM python") : text.index("RUN groupadd")]))
    assert {k for k in env if not k.startswith(("PYTHON", "PIP_"))} <= read_names()


def test_dockerignore_keeps_local_state_out_of_the_image():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", "data", "node_modules", ".git"} <= ignored
