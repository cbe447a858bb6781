"""ECG lead names and voltage units: the vocabulary shared by every ECG source format.

Sources name leads many ways ("Lead I (Einthoven)", "MLII", "ECG II", "AVR", SCP-ECG and MDC codes); the ECG
templates name their channels I, II, III, aVR, aVL, aVF, V1..V6 and plot mV.
"""

from __future__ import annotations

import re

from medlabel.samples import ECG_LEADS

_LEAD_BY_KEY = {lead.lower(): lead for lead in ECG_LEADS} | {"di": "I", "dii": "II", "diii": "III"}
# SCP-ECG (5.6.3-9-N) and ISO/IEEE 11073 MDC (2:N) share the lead numbers N (DICOM PS3.16 CID 3001).
_LEAD_BY_CODE_NUMBER = {
    1: "I",
    2: "II",
    3: "V1",
    4: "V2",
    5: "V3",
    6: "V4",
    7: "V5",
    8: "V6",
    61: "III",
    62: "aVR",
    63: "aVL",
    64: "aVF",
}
_LEAD_PREFIX = re.compile(
    r"^(?:mdc_ecg_lead_|ecg[\s_-]*lead[\s_-]*|ecg[\s_-]*|lead[\s_-]*|ml(?=i{1,3}$))", re.I
)
_MV_PER_UNIT = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3, "nv": 1e-6}


def lead_name(raw: str) -> str | None:
    """The canonical lead ("I", "aVR", "V1"…) for a source's channel name, or None if it is not an ECG lead.

    Accepts "Lead I (Einthoven)", "MLII", "ECG II", "MDC_ECG_LEAD_aVR", "AVR", "DII" and the like.
    """
    name = re.sub(r"\s*\([^)]*\)", "", raw).strip()
    name = _LEAD_PREFIX.sub("", name, count=1).strip()
    return _LEAD_BY_KEY.get(name.lower())


def lead_from_code(value: str, meaning: str) -> str | None:
    """The lead a DICOM channel source code names (SCP-ECG or MDC code value, else its code meaning)."""
    match = re.fullmatch(r"(?:5\.6\.3-9-|2:)(\d+)", value.strip())
    if match:
        return _LEAD_BY_CODE_NUMBER.get(int(match.group(1)))
    if value.strip().isdigit() and int(value) > 131072:  # MDC numeric form: partition 2 << 16 | code
        return _LEAD_BY_CODE_NUMBER.get(int(value) - 131072)
    return lead_name(meaning)


def mv_factor(unit: str | None) -> float | None:
    """Multiplier from `unit` to millivolts (a missing unit means mV, the WFDB default); None if not a voltage."""
    return _MV_PER_UNIT.get((unit or "mV").strip().replace(" ", "").lower())
