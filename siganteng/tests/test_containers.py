"""The Dockerfile and docker-compose.yml only run things that exist in the project
(no Docker engine runs here, so this is what keeps them from rotting)."""

from __future__ import annotations

import importlib
import re
import shlex

import yaml
from django.core.management import get_commands

from siganteng.testing import BASE_DIR


def _commands_in_compose() -> list[list[str]]:
    compose = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
    found = []
    for name, service in compose["services"].items():
        if service.get("build") or service.get("image", "").startswith("siganteng"):
            command = service.get("command")
            if isinstance(command, list) and command[:2] == ["sh", "-c"]:
                for part in command[2].split("&&"):
                    found.append(shlex.split(part))
            elif command:
                found.append(command if isinstance(command, list) else shlex.split(command))
        assert name
    return found


def _commands_in_dockerfile() -> list[list[str]]:
    text = (BASE_DIR / "Dockerfile").read_text().replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        if line.startswith("CMD "):
            found.append(yaml.safe_load(line[4:]))
        if line.startswith("RUN "):
            for part in line[4:].split("&&"):
                found.append(shlex.split(part))
    return found


def _check(cmd: list[str]) -> None:
    words = [w for w in cmd if "=" not in w or w.startswith("-")]
    if "manage.py" in words:
        sub = words[words.index("manage.py") + 1]
        assert sub in get_commands(), f"manage.py {sub} does not exist"
    if words and words[0] == "gunicorn":
        module, _, attr = words[1].partition(":")
        assert hasattr(importlib.import_module(module), attr or "application")
    if words[:2] == ["pip", "install"]:
        for i, w in enumerate(words):
            if w == "-r":
                assert (BASE_DIR / words[i + 1]).is_file(), words[i + 1]


def test_it_runs_only_existing_commands_in_the_containers():
    compose_cmds = _commands_in_compose()
    docker_cmds = _commands_in_dockerfile()
    flat = " ".join(" ".join(c) for c in compose_cmds + docker_cmds)
    for needed in ["qcluster", "migrate", "seed", "collectstatic", "gunicorn"]:
        assert needed in flat
    for cmd in compose_cmds + docker_cmds:
        _check(cmd)


def test_it_builds_a_slim_non_root_image_with_the_requirements_it_copies():
    text = (BASE_DIR / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    assert re.search(r"^USER (?!root)\w+", text, re.M)
    for copied in re.findall(r"^COPY (\S+) ", text, re.M):
        if copied != ".":
            assert (BASE_DIR / copied).exists(), copied
    compose = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
    assert {"web", "worker", "postgres", "redis", "minio", "createbucket"} <= set(compose["services"])


def test_the_compose_stack_pins_minio_signs_for_the_outside_and_keeps_the_demo_key_opt_in():
    compose = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
    for name in ("minio", "createbucket"):
        image = compose["services"][name]["image"]
        assert re.fullmatch(r"minio/(minio|mc):RELEASE\.[0-9T:-]+Z", image), image
    env = compose["services"]["web"]["environment"]
    assert env["AWS_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert env["AWS_S3_PUBLIC_ENDPOINT_URL"].endswith(":-http://localhost:9000}")
    assert env["SEED_DEMO"] == "${SEED_DEMO:-false}"


def test_the_image_has_espeak_ng_and_the_requirements_name_what_is_imported():
    assert re.search(r"apt-get install[^\n]*espeak-ng", (BASE_DIR / "Dockerfile").read_text())
    requirements = (BASE_DIR / "requirements.txt").read_text()
    for package in ("lxml", "drf-spectacular-sidecar"):
        assert re.search(rf"^{package}==", requirements, re.M), package


def test_the_worker_runs_the_cluster_that_hands_work_back_and_is_killed_only_after_its_grace(settings):
    assert get_commands()["qcluster"] == "siganteng"  # siganteng's qcluster, not django-q2's
    worker = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())["services"]["worker"]
    kill_after = int(re.fullmatch(r"(\d+)s", worker["stop_grace_period"]).group(1))
    assert kill_after > settings.Q_STOP_GRACE_SECONDS
