"""The Dockerfile, the compose file and the Kubernetes manifests, checked statically.

No container runtime or cluster runs here, so: every file they copy or mount
exists (and is not .dockerignore'd), every command is a real ``teamgate``
command with valid flags (parsed by teamgate's own parser), the config they
mount passes ``teamgate check`` with the environment they set, and ports,
probes, paths and grace periods agree with the config.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from teamgate.cli import build_parser
from teamgate.config.loader import load_settings
from teamgate.config.schema import ServerSettings
from tests.project.packaging.wheel_venv import STRIP_HASHES

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "kubernetes"
PORT = ServerSettings().port


def parse_teamgate(args: list[str]) -> None:
    """``teamgate ARGS`` must parse (argparse exits on an unknown command or flag)."""
    namespace = build_parser().parse_args(args)
    assert callable(namespace.func)


# --- Dockerfile ---------------------------------------------------------------------------
def dockerfile() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` with continuation lines joined, comments dropped."""
    text = (REPO / "Dockerfile").read_text()
    joined = text.replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def dockerignored(path: str) -> bool:
    patterns = [
        p.strip()
        for p in (REPO / ".dockerignore").read_text().splitlines()
        if p.strip() and not p.startswith("#")
    ]
    parts = Path(path).parts
    return any(
        fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(parts[0], pattern) for pattern in patterns
    )


def test_dockerfile_is_multi_stage_and_copies_only_what_exists() -> None:
    steps = dockerfile()
    stages = [args for kind, args in steps if kind == "FROM"]
    assert stages == ["python:3.11-slim AS build", "python:3.11-slim AS runtime"]
    copies = [args.split() for kind, args in steps if kind == "COPY"]
    for args in copies:
        if args[0].startswith("--from="):
            assert args[0] == "--from=build"
            continue
        for source in args[:-1]:
            assert (REPO / source).exists(), source
            assert not dockerignored(source), f"{source} is excluded by .dockerignore"


def test_dockerfile_installs_as_ci_does_and_runs_as_non_root() -> None:
    steps = dockerfile()
    runs = " ".join(args for kind, args in steps if kind == "RUN")
    # The same steps as tests/project/packaging/test_wheel.py: python -m build, then the wheel
    # with the extras, pinned by requirements.lock's pins (hashes stripped: CONSTRAINTS).
    assert "python -m build --outdir /dist ." in runs
    assert f"sed '{STRIP_HASHES}' /tmp/requirements.lock > /tmp/constraints.txt" in runs
    assert 'pip install --no-cache-dir "${wheel}[postgres,redis]" -c /tmp/constraints.txt' in runs
    lock = (REPO / "requirements.lock").read_text()
    assert "build==1.6.1" in runs and "build==1.6.1" in lock
    user = [args for kind, args in steps if kind == "USER"]
    assert user == ["10001:10001"] and "--uid 10001" in runs


def test_dockerfile_serves_on_the_default_port_with_readyz_as_healthcheck() -> None:
    steps = dict(dockerfile())
    entry = json.loads(steps["ENTRYPOINT"]) + json.loads(steps["CMD"])
    assert entry == ["teamgate", "serve", "--host", "0.0.0.0"]
    parse_teamgate(entry[1:])
    assert steps["EXPOSE"] == str(PORT)
    health = steps["HEALTHCHECK"]
    assert f"http://127.0.0.1:{PORT}/readyz" in health
    assert "TEAMGATE_CONFIG=/etc/teamgate/teamgate.yaml" in steps["ENV"]


# --- docker compose ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return data


def _env(service: dict[str, Any]) -> dict[str, str]:
    """The service's environment with ``${VAR:-default}`` taken as its default."""
    out = {}
    for name, value in service.get("environment", {}).items():
        value = str(value)
        if value.startswith("${") and ":-" in value:
            value = value.split(":-", 1)[1].rstrip("}")
        out[name] = value
    return out


def test_compose_has_every_part_and_builds_the_image(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "migrate", "teamgate", "lb"}
    for name in ("migrate", "teamgate"):
        build = services[name]["build"]
        assert (DEPLOY / build["context"]).resolve() == REPO
        assert (REPO / build["dockerfile"]).is_file()
        assert "pip install" not in json.dumps(services[name])  # nothing from an index
    assert services["teamgate"]["deploy"]["replicas"] == 3
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    gate = services["teamgate"]["depends_on"]
    assert gate["migrate"]["condition"] == "service_completed_successfully"
    assert gate["redis"]["condition"] == "service_healthy"
    assert services["lb"]["depends_on"]["teamgate"]["condition"] == "service_healthy"


def test_compose_commands_are_teamgate_commands(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["teamgate"]["command"] == ["serve", "--host", "0.0.0.0"]
    for name in ("migrate", "teamgate"):
        parse_teamgate(services[name]["command"])


def test_compose_mounts_exist_and_the_lb_reaches_the_gateways(compose: dict[str, Any]) -> None:
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).is_file(), source
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert f"server teamgate:{PORT};" in nginx
    assert compose["services"]["lb"]["ports"] == [f"{PORT}:{PORT}"]


def test_the_compose_config_passes_check_with_the_compose_environment(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    service = compose["services"]["teamgate"]
    env = _env(service)
    mount = service["volumes"][0].split(":")
    assert mount[1] == env["TEAMGATE_CONFIG"]
    settings = load_settings(DEPLOY / mount[0], env)
    assert settings.storage.url.startswith("postgresql://")
    assert settings.redis.url == "redis://redis:6379/0"
    assert settings.redis.instances == service["deploy"]["replicas"]
    assert settings.server.port == PORT
    grace = settings.server.drain_delay_s + settings.server.grace_period_s
    assert float(service["stop_grace_period"].rstrip("s")) >= grace
    result = subprocess.run(
        [sys.executable, "-m", "teamgate", "check", "--config", str(DEPLOY / mount[0])],
        env={**os.environ, **env, "PYTHONPATH": str(REPO / "src")},
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


# --- Kubernetes ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def manifests() -> dict[str, dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    docs: dict[str, dict[str, Any]] = {}
    for name in [*kustomization["resources"], "servicemonitor.yaml", "secret.example.yaml"]:
        for doc in yaml.safe_load_all((K8S / name).read_text()):
            assert {"apiVersion", "kind", "metadata"} <= set(doc), name
            docs[doc["kind"]] = doc
    for generator in kustomization["configMapGenerator"]:
        for file in generator["files"]:
            assert (K8S / file).is_file()
    return docs


def _container(doc: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = doc["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def _settings_for(container: dict[str, Any]) -> Any:
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    env["TEAMGATE_STORAGE__URL"] = "postgresql://teamgate@postgres/teamgate"  # from the Secret
    env["TEAMGATE_REDIS__URL"] = "redis://redis:6379/0"
    config = K8S / Path(env["TEAMGATE_CONFIG"]).name
    return load_settings(config, env)


def test_kubernetes_deployment_probes_ports_and_grace(manifests: dict[str, Any]) -> None:
    deployment = manifests["Deployment"]
    container = _container(deployment)
    parse_teamgate(container["args"])
    assert container["args"] == ["serve", "--host", "0.0.0.0"]
    settings = _settings_for(container)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": settings.server.port, "metrics": settings.server.admin_port}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    sleep = container["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep"
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= int(sleep[1]) + settings.server.grace_period_s + settings.server.drain_delay_s
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the image's user
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    config_env = {e["name"]: e.get("value") for e in container["env"]}["TEAMGATE_CONFIG"]
    assert mounts["config"] == str(Path(config_env).parent)
    assert Path(settings.source).name == Path(config_env).name


def test_kubernetes_secrets_service_pdb_and_job_agree(manifests: dict[str, Any]) -> None:
    deployment, service = manifests["Deployment"], manifests["Service"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    assert service["spec"]["selector"] == labels
    assert manifests["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == labels
    container = _container(deployment)
    named = {p["name"] for p in container["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} == named
    assert manifests["ServiceMonitor"]["spec"]["endpoints"][0]["port"] == "metrics"
    secret_keys = set(manifests["Secret"]["stringData"])
    job = _container(manifests["Job"])
    for env in [*container["env"], *job["env"]]:
        ref = env.get("valueFrom", {}).get("secretKeyRef")
        if ref is not None:
            assert ref["name"] == manifests["Secret"]["metadata"]["name"]
            assert ref["key"] in secret_keys
    assert job["args"] == ["migrate"]
    parse_teamgate(job["args"])
    settings = _settings_for(container)
    for team in settings.teams.values():  # every upstream key variable comes from the Secret
        for environment in team.environments.values():
            for key in environment.upstream_keys:
                name = key.secret.removeprefix("env:")
                assert name in {e["name"] for e in container["env"]}, name


def test_every_command_the_deploy_readme_shows_is_a_teamgate_command() -> None:
    text = (DEPLOY / "README.md").read_text()
    spans = re.findall(r"`([^`\n]+)`", text) + [
        line.strip() for line in text.splitlines() if line.startswith("    ")
    ]
    shown = []
    for span in spans:
        if re.search(r"(^|[\s=-])teamgate [a-z]", span):
            shown.append(span.rsplit("teamgate ", 1)[1])
    assert len(shown) >= 6, shown
    for command in shown:
        parse_teamgate(shlex.split(command.replace("…", "x")))
