"""Label Studio as the gateway reaches it: one pooled HTTP client, the physician's access tokens, and the
ownership facts (annotation and draft authors, task media) the allow-list needs, cached per process."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from medlabel.accounts.label_studio import AccessTokens
from medlabel.settings import Settings

logger = logging.getLogger(__name__)

#: Request headers the browser may pass on; everything else (cookies, auth, CSRF, forwarding) is dropped.
REQUEST_HEADERS = (
    "accept",
    "accept-encoding",
    "accept-language",
    "content-type",
    "if-modified-since",
    "if-none-match",
    "range",
    "user-agent",
)
#: Response headers passed back; Set-Cookie and LS's session machinery never reach the browser.
RESPONSE_HEADERS = (
    "cache-control",
    "content-disposition",
    "content-range",
    "accept-ranges",
    "content-security-policy",
    "content-type",
    "etag",
    "expires",
    "last-modified",
    "location",
    "vary",
    "x-frame-options",
)
#: Only meaningful for bytes passed through untouched.
RAW_ONLY_HEADERS = ("content-encoding", "content-length")
LOCAL_FILES = "/data/local-files/"


class Upstream:
    """One per app; thread-safe (httpx.Client and lru_cache are)."""

    def __init__(self, settings: Settings) -> None:
        self.base_url = settings.label_studio_url
        self.http = httpx.Client(
            base_url=settings.label_studio_url,
            timeout=httpx.Timeout(120.0, connect=5.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )
        self._service = {"Authorization": f"Token {settings.label_studio_api_key}"}
        self.tokens = AccessTokens(settings, self.http)
        # Authors and task data do not change once written (the gateway strips authorship from every write).
        self.annotation_owner = lru_cache(maxsize=100_000)(self._annotation_owner)
        self.draft_owner = lru_cache(maxsize=100_000)(self._draft_owner)
        self._fetch_media = lru_cache(maxsize=100_000)(self._task_media)
        #: Media of tasks the gateway already passed to a physician: the editor asks for a task's image right
        #: after the task, so the check needs no extra call to Label Studio.
        self._seen_media: dict[int, frozenset[str]] = {}

    def _get(self, path: str) -> dict[str, Any] | None:
        answer = self.http.get(path, headers=self._service)
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        return body

    def _annotation_owner(self, annotation_id: int) -> tuple[int | None, int] | None:
        """(author LS user id, task id) of an annotation, or None when there is no such annotation."""
        found = self._get(f"/api/annotations/{annotation_id}/")
        if found is None:
            return None
        author = found.get("completed_by")
        return (author.get("id") if isinstance(author, dict) else author), int(found["task"])

    def _draft_owner(self, draft_id: int) -> tuple[int | None, int] | None:
        found = self._get(f"/api/drafts/{draft_id}/")
        if found is None:
            return None
        user = found.get("user")
        return (int(user) if str(user).isdigit() else None), int(found["task"])

    def remember_media(self, task: dict[str, Any]) -> None:
        if isinstance(task.get("id"), int):
            if len(self._seen_media) >= 100_000:  # bounded; a miss only costs one call to Label Studio
                self._seen_media.clear()
            self._seen_media[task["id"]] = media_paths(task.get("data"))

    def task_media(self, task_id: int) -> frozenset[str]:
        seen = self._seen_media.get(task_id)
        return seen if seen is not None else self._fetch_media(task_id)

    def _task_media(self, task_id: int) -> frozenset[str]:
        found = self._get(f"/api/tasks/{task_id}/")
        return media_paths(found.get("data") if found else None)

    def relative_location(self, location: str) -> str:
        """Label Studio's redirects name its own address; the browser must stay on the gateway."""
        return location.removeprefix(self.base_url) or "/"

    def close(self) -> None:
        self.http.close()


def media_paths(data: Any) -> frozenset[str]:
    """Every local-files path a task's data names (`/data/local-files/?d=PATH`, relative or absolute URL)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str) and LOCAL_FILES in value:
            found.update(parse_qs(urlsplit(value).query).get("d", []))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(data)
    return frozenset(found)
