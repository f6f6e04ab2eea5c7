"""Durations written with units (``90s``, ``15min``, ``3d12h``) and integer milliseconds.

SimPy time in hiergrid is integer milliseconds since ``time.start`` (see
DESIGN.md, "Time"), so every duration in a scenario is parsed once into an
``int`` of milliseconds and periods never drift.

Grammar: one or more ``<number><unit>`` parts, units in descending order and
each at most once, optionally separated by spaces, with an optional leading
``-``::

    500ms   0.1s   90s   15min   4h   7d   3d12h   1h30min   1h 30min

Units: ``ms``, ``s``, ``min``, ``h``, ``d`` (``m`` is refused as ambiguous).
Decimal numbers are exact (``0.1s`` is 100 ms), but the total must be a
whole number of milliseconds. Bare numbers are refused (a unit must be
given), except zero: ``0`` and ``"0"`` mean 0 ms.

Examples
--------
>>> parse_duration_ms("3d12h")
302400000
>>> format_duration(302400000)
'3d12h'
"""
from __future__ import annotations

import re
from fractions import Fraction

__all__ = ["UNIT_MS", "DURATION_PATTERN", "parse_duration_ms", "format_duration"]

#: length of each unit [ms], largest first
UNIT_MS: dict[str, int] = {"d": 86_400_000, "h": 3_600_000, "min": 60_000, "s": 1_000, "ms": 1}

_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_UNIT = r"(?:ms|min|s|h|d)"
_PART = re.compile(rf"({_NUMBER})\s*({_UNIT})\s*")
#: regular expression of a valid duration string (also used in the JSON Schema)
DURATION_PATTERN = rf"^\s*-?\s*(?:{_NUMBER}\s*{_UNIT}\s*)+$|^\s*-?(?:0+(?:\.0*)?|\.0+)\s*$"
_WHOLE = re.compile(DURATION_PATTERN)


def _fail(path: str, message: str) -> ValueError:
    return ValueError(f"{path}: {message}" if path else message)


def _parts_ms(body: str, text: str, path: str) -> Fraction:
    """Sum the ``<number><unit>`` parts of ``body`` [ms], checking unit order."""
    total = Fraction(0)
    previous_rank = -1
    ranks = list(UNIT_MS)
    for match in _PART.finditer(body):
        number, unit = match.groups()
        rank = ranks.index(unit)
        if rank <= previous_rank:
            raise _fail(path, f"units in {text!r} must go from largest to smallest, each once "
                              "(e.g. '1h30min')")
        previous_rank = rank
        total += Fraction(number) * UNIT_MS[unit]
    return total


def parse_duration_ms(text: str | int | float, path: str = "", *,
                      allow_zero: bool = True, allow_negative: bool = False) -> int:
    """Parse a duration with units into integer milliseconds.

    Parameters
    ----------
    text : str or int or float
        Duration such as ``"15min"``, ``"3d12h"``, ``"0.1s"``. Numbers without
        a unit are refused, except zero (``0`` or ``"0"``).
    path : str, optional
        Key path of the value in the scenario (``"time.step"``), put in front
        of the error message.
    allow_zero : bool, optional
        Accept a zero duration (default True).
    allow_negative : bool, optional
        Accept a leading ``-`` (default False).

    Returns
    -------
    int
        The duration [ms].

    Raises
    ------
    ValueError
        If the text is not a duration, is not a whole number of milliseconds,
        or is zero or negative where not allowed. The message starts with
        ``path`` when one is given.

    Examples
    --------
    >>> parse_duration_ms("1h30min"), parse_duration_ms("0.1s"), parse_duration_ms(0)
    (5400000, 100, 0)
    """
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise _fail(path, f"expected a duration such as '15min', got {type(text).__name__}")
    if isinstance(text, (int, float)):
        text = str(text)
    stripped = text.strip()
    if re.fullmatch(rf"-?{_NUMBER}", stripped) and float(stripped) != 0:
        raise _fail(path, f"a duration needs a unit: write e.g. '{stripped}s' or "
                          f"'{stripped}min', not the bare number {stripped}")
    if not _WHOLE.match(stripped):
        hint = " (use 'min' for minutes)" if re.search(r"\dm\b", stripped) else ""
        raise _fail(path, f"{text!r} is not a duration; write e.g. '500ms', '90s', '15min', "
                          f"'4h', '7d' or '3d12h'{hint}")
    negative = stripped.startswith("-")
    total = _parts_ms(stripped.lstrip("-").strip(), text, path)
    if total.denominator != 1:
        raise _fail(path, f"{text!r} is not a whole number of milliseconds")
    ms = -int(total) if negative else int(total)
    if ms < 0 and not allow_negative:
        raise _fail(path, f"{text!r} must not be negative")
    if ms == 0 and not allow_zero:
        raise _fail(path, f"{text!r} must be longer than zero")
    return ms


def format_duration(ms: int) -> str:
    """Write a duration [ms] in the shortest compound form ``parse_duration_ms`` reads.

    Parameters
    ----------
    ms : int
        Duration [ms]; may be negative.

    Returns
    -------
    str
        E.g. ``'3d12h'``, ``'1h30min'``, ``'100ms'``; ``'0s'`` for zero.

    Examples
    --------
    >>> format_duration(5_400_000), format_duration(1_500), format_duration(0)
    ('1h30min', '1s500ms', '0s')
    """
    if isinstance(ms, bool) or not isinstance(ms, int):
        raise TypeError(f"format_duration expects an int of milliseconds, got {ms!r}")
    if ms == 0:
        return "0s"
    sign, rest = ("-", -ms) if ms < 0 else ("", ms)
    parts = []
    for unit, unit_ms in UNIT_MS.items():
        count, rest = divmod(rest, unit_ms)
        if count:
            parts.append(f"{count}{unit}")
    return sign + "".join(parts)
