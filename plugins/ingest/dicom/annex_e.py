"""The PS3.15 Annex E attribute table shipped with medlabel, resolved into one action per tag.

`annex_e.json` (beside this module, licence in `annex_e.LICENSE.txt`) is Table E.1-1 of the standard: one row
per attribute with its Basic Profile action and, where an option changes it, the option's action. This module
turns it, once per set of options, into plain dicts the de-identifier looks tags up in, so the walk over a
dataset never parses the table or matches tag patterns.

Choices (the standard leaves them to the implementation):
- Compound actions take their first action (X/Z → X, X/D → X, X/Z/D → X, Z/D → Z): the table is applied to
  arbitrary IODs without knowing each attribute's type in it, and the first action is the most protective.
  The exception is X/Z/U* (Referenced Image Sequence, Source Image Sequence): removing them would cut the
  references between instances the issue wants kept, and U* is what "replace the UIDs inside" means, so the
  sequence is kept and its items are walked like any other (their UIDs are U rows themselves).
- An option changes a row's action only where the table has a value in that option's column. When two
  switched-on options disagree (device identity says K, modified dates says C for calibration dates), the
  more protective C wins: keeping the true date would undo the date option.
- The modified-dates option shifts dates by whole days (see `deid.py`), which leaves times of day unchanged:
  its C on a TM row is therefore K. Its C on rows that are not DA/DT/TM (OB timestamps, Timezone Offset From
  UTC) cannot be shifted and falls back to the Basic Profile action.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from pydicom.datadict import dictionary_VR

from medlabel.errors import MedlabelError


class Action(enum.Enum):
    """What happens to one attribute (the letters of Table E.1-1)."""

    REMOVE = "X"
    EMPTY = "Z"
    DUMMY = "D"
    UID = "U"
    KEEP = "K"
    CLEAN = "C"


_LETTERS = {action.value: action for action in Action}
_OPTION_COLUMNS = {
    "retain_longitudinal_modified_dates": "rtnLongModifDatesOpt",
    "retain_patient_characteristics": "rtnPatCharsOpt",
    "retain_device_identity": "rtnDevIdOpt",
}
_MOST_PROTECTIVE_FIRST = "XZDUCK"
_TAG = re.compile(r"\(([0-9A-F]{2})([0-9A-FX]{2}),([0-9A-FX]{4})\)")
#: The one row that is not a tag: all private attributes, removed by the walk's odd-group test.
PRIVATE_ROW_ID = "ggggeeee-where-gggg-is-odd"


@dataclass(frozen=True)
class Row:
    """One row of Table E.1-1, kept as the standard writes it."""

    name: str
    tag: str
    row_id: str
    basic: str
    options: dict[str, str]


@dataclass(frozen=True)
class ActionTable:
    """The resolved actions: `by_tag` for plain tags, `curve` for every (50xx,xxxx) element and `overlay` by
    element number for the (60xx,eeee) rows; the repeating groups are matched by a group mask in the walk."""

    by_tag: dict[int, Action]
    curve: Action
    overlay: dict[int, Action]


@cache
def rows() -> tuple[Row, ...]:
    """The shipped table, read once per process."""
    text = resources.files(__package__).joinpath("annex_e.json").read_text(encoding="utf-8")
    raw: list[dict[str, Any]] = json.loads(text)
    return tuple(
        Row(
            name=row["name"],
            tag=row["tag"],
            row_id=row["id"],
            basic=row["basicProfile"],
            options={column: row[column] for column in _OPTION_COLUMNS.values() if column in row},
        )
        for row in raw
    )


def resolve(row: Row, *, vr: str, switched_on: frozenset[str]) -> Action:
    """The action for one row under the switched-on option columns (see the module docstring)."""
    letters = set()
    for column in switched_on & row.options.keys():
        letter = row.options[column]
        if column == "rtnLongModifDatesOpt" and vr == "TM":
            letter = "K"
        elif column == "rtnLongModifDatesOpt" and vr not in ("DA", "DT"):
            continue
        letters.add(letter)
    if letters:
        return _LETTERS[min(letters, key=_MOST_PROTECTIVE_FIRST.index)]
    if row.basic == "X/Z/U*":
        return Action.KEEP
    return _LETTERS[row.basic.split("/")[0]]


@cache
def action_table(
    retain_longitudinal_modified_dates: bool = False,
    retain_patient_characteristics: bool = False,
    retain_device_identity: bool = False,
) -> ActionTable:
    """The tag → action lookup for one combination of options (built once per combination)."""
    flags = {
        "retain_longitudinal_modified_dates": retain_longitudinal_modified_dates,
        "retain_patient_characteristics": retain_patient_characteristics,
        "retain_device_identity": retain_device_identity,
    }
    switched_on = frozenset(_OPTION_COLUMNS[name] for name, on in flags.items() if on)
    by_tag: dict[int, Action] = {}
    overlay: dict[int, Action] = {}
    curve: Action | None = None
    for row in rows():
        if row.row_id == PRIVATE_ROW_ID:
            continue
        match = _TAG.fullmatch(row.tag)
        if match is None:
            raise MedlabelError(f"annex_e.json: unexpected tag {row.tag!r} in row {row.name!r}")
        high, low, element = match.groups()
        if low == "XX" and element == "XXXX":  # (50xx,xxxx): every element of the curve groups
            curve = resolve(row, vr="OB", switched_on=switched_on)
        elif low == "XX":  # (60xx,eeee): one element of every overlay group
            overlay[int(element, 16)] = resolve(row, vr="OB", switched_on=switched_on)
        else:
            tag = int(high + low + element, 16)
            by_tag[tag] = resolve(row, vr=dictionary_VR(tag), switched_on=switched_on)
    if curve is None:
        raise MedlabelError("annex_e.json: the (50xx,xxxx) Curve Data row is missing")
    return ActionTable(by_tag=by_tag, curve=curve, overlay=overlay)
