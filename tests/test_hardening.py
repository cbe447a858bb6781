"""Label Studio as the stack and the tests run it is hardened: secrets, sign-up, file serving, SSRF."""

from __future__ import annotations

import ipaddress
import stat

import requests
from label_studio_sdk import LabelStudio

from medlabel.ls_server import LS_DEFAULT_BANNED_SUBNETS, LabelStudioServer, banned_subnets_except


def test_secret_key_is_random_and_private(label_studio: LabelStudioServer) -> None:
    env = label_studio.environment()
    key_file = label_studio.secrets_dir / "label_studio_secret_key"
    assert env["SECRET_KEY"] == key_file.read_text().strip() and len(env["SECRET_KEY"]) >= 50
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(label_studio.secrets_dir.stat().st_mode) == 0o700


def test_file_serving_is_scoped_to_the_media_root(label_studio: LabelStudioServer) -> None:
    env = label_studio.environment()
    assert env["LOCAL_FILES_SERVING_ENABLED"] == "true"
    assert env["LOCAL_FILES_DOCUMENT_ROOT"] == str(label_studio.media_root) != "/"
    response = requests.get(
        f"{label_studio.url}/data/local-files/?d=../../../../etc/passwd",
        headers={"Authorization": f"Token {label_studio.api_key}"},
        timeout=10,
    )
    # Label Studio answers the traversal with 500 (safe_join raises); what matters is that nothing is served.
    assert response.status_code != 200 and "root:" not in response.text


def test_sign_up_without_invite_link_is_refused(label_studio: LabelStudioServer) -> None:
    session = requests.Session()
    page = session.get(f"{label_studio.url}/user/signup/", timeout=10)
    token = session.cookies.get("csrftoken", "")
    response = session.post(
        f"{label_studio.url}/user/signup/",
        data={"email": "intruder@example.com", "password": "S3cret-pass-123", "csrfmiddlewaretoken": token},
        headers={"Referer": page.url},
        timeout=10,
        allow_redirects=False,
    )
    assert response.status_code != 302 or "/projects" not in response.headers.get("Location", "")
    users = LabelStudio(base_url=label_studio.url, api_key=label_studio.api_key).users.list()
    assert "intruder@example.com" not in {u.email for u in users}


def test_ssrf_protection_stays_on_with_only_loopback_let_through(label_studio: LabelStudioServer) -> None:
    env = label_studio.environment()
    assert env["SSRF_PROTECTION_ENABLED"] == "true"
    assert "ML_BLOCK_LOCAL_IP" not in env  # left at Label Studio's default: true
    banned = [ipaddress.ip_network(s) for s in env["USER_ADDITIONAL_BANNED_SUBNETS"].split(",")]
    for address in ("10.1.2.3", "192.168.1.1", "169.254.169.254", "172.20.0.5", "::1"):
        assert any(ipaddress.ip_address(address) in net for net in banned), address
    assert not any(ipaddress.ip_address("127.0.0.1") in net for net in banned)


def test_compose_subnet_is_carved_out_of_its_private_block() -> None:
    banned = [ipaddress.ip_network(s) for s in banned_subnets_except("172.28.0.0/16")]
    assert not any(ipaddress.ip_address("172.28.0.10") in net for net in banned)
    for address in ("172.16.0.1", "172.31.255.1", "127.0.0.1", "10.0.0.1"):
        assert any(ipaddress.ip_address(address) in net for net in banned), address
    assert len(LS_DEFAULT_BANNED_SUBNETS) == 31
