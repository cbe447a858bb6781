"""Build the label-studio-sdk client and translate its errors; nothing else."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import httpx
from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError

from medlabel.errors import LabelStudioError
from medlabel.settings import Settings

T = TypeVar("T")


def make_client(settings: Settings, timeout: float = 60.0) -> LabelStudio:
    """A client for the configured Label Studio; fails early with a clear message when unconfigured."""
    if not settings.label_studio_api_key:
        raise LabelStudioError("LABEL_STUDIO_API_KEY is not set; the local stack prints one on start")
    return LabelStudio(
        base_url=settings.label_studio_url, api_key=settings.label_studio_api_key, timeout=timeout
    )


@contextmanager
def translated_errors(action: str) -> Iterator[None]:
    """Re-raise SDK and transport errors as LabelStudioError naming the action that failed."""
    try:
        yield
    except ApiError as exc:
        detail = exc.body if isinstance(exc.body, str) else (exc.body or {})
        if isinstance(detail, dict):
            detail = detail.get("detail") or detail.get("validation_errors") or detail
        raise LabelStudioError(f"{action}: Label Studio answered {exc.status_code}: {detail}") from exc
    except httpx.HTTPError as exc:
        raise LabelStudioError(
            f"{action}: cannot reach Label Studio ({exc.__class__.__name__}: {exc})"
        ) from exc


def call(action: str, fn: Callable[[], T]) -> T:
    """Run one SDK call under `translated_errors`."""
    with translated_errors(action):
        return fn()
