"""The platform web service: the template catalog as a manager sees it, in a real browser too."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from config_templates import list_templates
from medlabel.app import create_app
from medlabel.errors import ConfigError
from tests.fixtures.label_studio import free_port
from tests.fixtures.web import make_settings


@pytest.fixture(scope="module")
def web_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    server = make_server("127.0.0.1", port, create_app(make_settings(tmp_path_factory.mktemp("web"))))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


def test_the_app_refuses_to_start_without_a_session_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MEDLABEL_SECRET_KEY"):
        create_app(make_settings(tmp_path, secret_key=""))


def test_catalog_api_and_errors(tmp_path: Path) -> None:
    client = create_app(make_settings(tmp_path)).test_client()
    assert client.get("/health").get_json() == {"status": "UP"}
    templates = client.get("/api/templates?specialty=ophthalmology").get_json()
    assert templates and {t["specialty"] for t in templates} == {"ophthalmology"}
    detail = client.get("/api/templates/chest_xray_chexpert?language=ko").get_json()
    assert "기흉" in detail["xml"] and detail["labelsets"]["findings"][0]["code"] == "no_finding"
    missing = client.get("/api/templates/nope")
    assert missing.status_code == 404 and missing.get_json()["error"] == "unknown_template"
    assert client.get("/api/templates?specialty=astrology").status_code == 400


@pytest.mark.browser
def test_catalog_page_in_a_browser(browser, web_url: str, screenshot_dir: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{web_url}/templates")
    assert page.locator("tbody tr").count() == len(list_templates())
    assert "26 specialties" in page.locator("#summary").inner_text()
    page.select_option("select[name=specialty]", "radiology")
    page.wait_for_url("**specialty=radiology**")
    assert page.locator("tbody tr").count() == len(list_templates(specialty="radiology"))
    page.screenshot(path=str(screenshot_dir / "web_catalog.png"))
    page.click("text=Chest X-ray: CheXpert 14 observations")
    page.click("main >> text=한국어")
    assert "기흉" in page.content()
    page.screenshot(path=str(screenshot_dir / "web_template.png"), full_page=False)
    page.close()
