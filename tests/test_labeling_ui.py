"""Every template's sample task opened in Label Studio's labeling UI in a real browser.

Validation and import prove nothing about rendering (ARCHITECTURE.md): here each object must actually
draw — image pixels decoded, every time-series channel plotted, video decodable, text shown — with no
error box, and a screenshot is kept under .state/screenshots for a person to look at.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from label_studio_sdk import LabelStudio
from label_studio_sdk.label_interface import LabelInterface

from config_templates import list_templates
from medlabel.ls_server import LabelStudioServer
from medlabel.projects import create_project
from medlabel.settings import Settings

TEMPLATES = list_templates()

pytestmark = pytest.mark.browser


def _object_tags(xml: str) -> set[str]:
    return {obj.tag.lower() for obj in LabelInterface(xml).objects}


@pytest.mark.parametrize("template", TEMPLATES, ids=[t.id for t in TEMPLATES])
def test_sample_task_renders_in_the_labeling_ui(
    template,
    ls_page,
    ls_client: LabelStudio,
    ls_settings: Settings,
    label_studio: LabelStudioServer,
    screenshot_dir: Path,
) -> None:
    created = create_project(ls_client, ls_settings, template.id, f"ui {template.id}", with_sample_task=True)
    page = ls_page
    page.goto(f"{label_studio.url}/projects/{created.id}/data?task={created.sample_task_id}")
    page.get_by_role("button", name="Submit").wait_for(timeout=30_000)
    tags = _object_tags(ls_client.projects.get(created.id).label_config)
    try:
        _wait_until_drawn(page, template, tags)
    finally:
        page.screenshot(path=str(screenshot_dir / f"{template.id}.png"))
    errors = page.locator("[class*='error-message'], [class*='ErrorMessage'], .lsf-error").all_inner_texts()
    assert not [e for e in errors if e.strip()], errors


def _wait_until_drawn(page, template, tags: set[str]) -> None:
    if "image" in tags:
        page.wait_for_function(
            "() => [...document.querySelectorAll('img')].some(i => i.complete && i.naturalWidth > 16)",
            timeout=30_000,
        )
    if "timeseries" in tags:
        # every channel is plotted: its legend is drawn as SVG text next to its own line
        legends = re.findall(r'<Channel[^>]*legend="([^"]+)"', template.xml)
        page.wait_for_function(
            "legends => { const drawn = new Set([...document.querySelectorAll('svg text')].map(t => t.textContent));"
            " return legends.every(l => drawn.has(l)); }",
            arg=legends,
            timeout=30_000,
        )
    if "video" in tags:
        page.wait_for_function(
            "() => [...document.querySelectorAll('video')].some(v => v.readyState >= 2 && v.videoWidth > 0)",
            timeout=30_000,
        )
    if "text" in tags or "hypertext" in tags:
        snippet = next(
            v for v in template.sample_task.values() if isinstance(v, str) and not v.startswith("sample:")
        )
        page.get_by_text(snippet.strip().split("\n")[0][:25], exact=False).first.wait_for(timeout=30_000)
    page.wait_for_timeout(500)
