"""Which drafts PHI review holds back (pure: no DB, no Label Studio)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

#: Held because the data source has not proven itself yet.
NEW_SOURCE = "new_source"
#: Held by the random share a proven source still gets.
SAMPLED = "sampled"


@dataclass(frozen=True)
class SourceRecord:
    """How a (project, source institution) has fared in review: items released since its last rejection."""

    released_since_rejection: int


def hold_reasons(
    content_key: str,
    plugin_reasons: Sequence[str],
    source: SourceRecord,
    proven_after: int,
    share: float,
) -> list[str]:
    """Why a draft is held (empty: it goes straight to Label Studio).

    Every draft of a source with fewer than `proven_after` releases since its last rejection is held, a proven
    source's drafts with probability `share` (decided by the content key, so a re-run decides the same), and
    every draft a plugin flagged (a low-score name, low-confidence OCR text).
    """
    reasons = list(dict.fromkeys(plugin_reasons))
    if source.released_since_rejection < proven_after:
        reasons.append(NEW_SOURCE)
    elif _draw(content_key) < share:
        reasons.append(SAMPLED)
    return reasons


def _draw(content_key: str) -> float:
    """A number in [0, 1) fixed by the content key."""
    return (
        int.from_bytes(hashlib.sha256(b"phi-review\x00" + content_key.encode()).digest()[:8], "big") / 2**64
    )
