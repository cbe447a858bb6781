"""PHI review's pure parts: which drafts are held, and what a reviewer is shown as removed."""

from __future__ import annotations

from medlabel.phi.policy import NEW_SOURCE, SAMPLED, SourceRecord, hold_reasons
from medlabel.phi.removed import removed
from plugins.ingest.base import TaskDraft

PROVEN = SourceRecord(released_since_rejection=200)


def test_a_new_source_is_held_whole_and_a_proven_one_is_sampled() -> None:
    assert hold_reasons("k", [], SourceRecord(199), proven_after=200, share=0.0) == [NEW_SOURCE]
    assert hold_reasons("k", [], PROVEN, proven_after=200, share=0.0) == []
    assert hold_reasons("k", [], PROVEN, proven_after=200, share=1.0) == [SAMPLED]


def test_flagged_drafts_are_always_held_with_their_reasons_first() -> None:
    reasons = hold_reasons("k", ["ocr_low_confidence", "ocr_low_confidence"], PROVEN, 200, 0.0)
    assert reasons == ["ocr_low_confidence"]
    assert hold_reasons("k", ["uncertain_name"], SourceRecord(0), 200, 0.0) == ["uncertain_name", NEW_SOURCE]


def test_the_sample_is_the_share_and_the_same_on_every_run() -> None:
    keys = [f"content-{i}" for i in range(20_000)]
    held = [k for k in keys if hold_reasons(k, [], PROVEN, 200, 0.05)]
    assert 0.045 <= len(held) / len(keys) <= 0.055
    assert held == [k for k in keys if hold_reasons(k, [], PROVEN, 200, 0.05)]


def test_removed_shows_kinds_and_places_in_the_scrubbed_text_only() -> None:
    text = "Patient [NAME] (MRN [MRN]) seen [DATE]; [NAME] again."
    draft = TaskDraft(
        data={"text": text, "title": "[DATE] note"},
        content_key="c",
        source_keys=["s"],
        facts={"identifiers": {"NAME": 2, "MRN": 1, "DATE": 2}},
    )
    view = removed(draft)
    assert view["identifiers"] == {"NAME": 2, "MRN": 1, "DATE": 2}
    places = [(p["field"], p["kind"], p["start"], p["end"]) for p in view["placeholders"]]
    assert places == [
        ("text", "NAME", 8, 14),
        ("text", "MRN", 20, 25),
        ("text", "DATE", 32, 38),
        ("text", "NAME", 40, 46),
        ("title", "DATE", 0, 6),
    ]
    image = TaskDraft(
        data={"image": "/data/x.png"},
        content_key="i",
        source_keys=["s"],
        facts={"burned_in": {"ocr_boxes": [[0, 1, 2, 3, 4]], "regions": [], "blacked_out_share": 0.01}},
    )
    assert removed(image) == {"burned_in": image.facts["burned_in"]}
