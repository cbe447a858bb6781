"""docker-compose.yml cannot run here (no Docker engine): parse it and check what it points at exists."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import yaml

from medlabel.ls_server import banned_subnets_except

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_the_production_services_are_all_there_with_health_checks() -> None:
    assert {"postgres", "redis", "label-studio", "ml-backend", "web", "worker"} <= set(SERVICES)
    for name in ("postgres", "redis", "label-studio", "ml-backend", "web"):
        assert "healthcheck" in SERVICES[name], name
    assert SERVICES["label-studio"]["image"] == "heartexlabs/label-studio:1.23.2"


def test_every_project_service_command_exists_in_the_project() -> None:
    for name, service in SERVICES.items():
        if "build" not in service:
            continue
        assert (ROOT / service["build"]["dockerfile"]).exists()
        command = service["command"]
        assert shutil.which(command[0], path=str(ROOT / ".venv" / "bin")), (
            f"{name}: {command[0]} not installed"
        )
        for arg in command[1:]:
            if ":" in arg and not arg.startswith(("0.0.0.0", "redis://")) and "." in arg.split(":")[0]:
                module, attribute = arg.split(":")
                target = getattr(importlib.import_module(module), attribute.removesuffix("()"))
                assert callable(target) or hasattr(target, "wsgi_app"), f"{name}: {arg}"


def test_secrets_come_from_the_environment_not_the_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for variable in (
        "POSTGRES_PASSWORD",
        "LABEL_STUDIO_SECRET_KEY",
        "LABEL_STUDIO_API_KEY",
        "MEDLABEL_SECRET_KEY",
        "MEDLABEL_GATEWAY_KEYS",
        "MEDLABEL_PUBLIC_URL",
    ):
        assert f"${{{variable}:?" in text
    assert "SECRET_KEY: ${LABEL_STUDIO_SECRET_KEY" in text


def test_label_studio_is_hardened_with_only_the_compose_subnet_let_through() -> None:
    env = SERVICES["label-studio"]["environment"]
    subnet = COMPOSE["networks"]["medlabel"]["ipam"]["config"][0]["subnet"]
    assert env["SSRF_PROTECTION_ENABLED"] == "true" and "ML_BLOCK_LOCAL_IP" not in env
    assert env["LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK"] == "true"
    assert env["LOCAL_FILES_DOCUMENT_ROOT"] not in ("/", "")
    assert env["USER_ADDITIONAL_BANNED_SUBNETS"] == ",".join(banned_subnets_except(subnet))


def test_physicians_can_reach_only_the_gateway_and_label_studio_only_the_host_loopback() -> None:
    published = {name: service.get("ports", []) for name, service in SERVICES.items()}
    assert published["web"] == ["8090:8090"]  # the platform and its gateway, behind the operator's TLS
    assert published["label-studio"] == ["127.0.0.1:8080:8080"]  # the managers' admin entry, loopback only
    assert all(not ports for name, ports in published.items() if name not in ("web", "label-studio"))
    assert "gthread" in SERVICES["web"]["command"]
