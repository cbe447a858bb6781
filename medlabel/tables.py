"""Tables a manager reads: terminal columns padded by display width, and CSV files safe in a spreadsheet.

Every CSV the platform writes goes through `csv_writer` / `write_csv`, so no cell a physician, a hospital or a
client supplied can run as a spreadsheet formula (CSV injection).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from rich.cells import set_cell_size

#: OWASP "CSV Injection": a cell starting with one of these is a formula (or DDE) to Excel, LibreOffice, Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: A plain number ("-0.1250", "+3", "1e-3") is read as a number, not a formula: ECG samples stay numeric.
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def cell(text: str, width: int) -> str:
    """`text` cropped or padded to `width` terminal columns (a Hangul syllable takes two; `str.ljust` counts one)."""
    return set_cell_size(text, width)


def neutralise(value: object) -> object:
    """A cell as OWASP's CSV-injection guidance asks: text that starts like a formula gets a leading `'`.

    Hand-written rather than `defusedcsv`, which also rewrites `|` and `%` cells and quotes both ends of them:
    values would no longer round-trip through `medlabel pool import`.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(value):
        return "'" + value
    return value


class SafeWriter:
    """`csv.writer` whose every cell goes through `neutralise`."""

    def __init__(self, handle: _Writable, **fmtparams: Any) -> None:
        self._writer = csv.writer(handle, **fmtparams)

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([neutralise(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(handle: _Writable, **fmtparams: Any) -> SafeWriter:
    return SafeWriter(handle, **fmtparams)


def write_csv(handle: _Writable, header: Sequence[str], rows: Iterable[dict[str, object]]) -> None:
    """Header, then one line per dict (missing keys empty), every cell neutralised."""
    writer = csv_writer(handle)
    writer.writerow(header)
    writer.writerows([row.get(name, "") for name in header] for row in rows)
