"""Aware local times: parsing, and refusing wall-clock times that do not exist or are ambiguous.

All comparisons in mailer use aware datetimes. The machine's own time zone is never consulted.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M")


class LocalTimeError(ValueError):
    """A local time that cannot be used; the message says why."""


def load_zone(name: str) -> ZoneInfo:
    """Return the IANA zone *name* or raise :class:`LocalTimeError`."""
    if not name or name.startswith(("/", ".")) or ".." in name:
        raise LocalTimeError(f"unknown time zone {name!r} (use an IANA name like Europe/Helsinki)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: 'Europe' is a folder
        raise LocalTimeError(
            f"unknown time zone {name!r} (use an IANA name like Europe/Helsinki)"
        ) from exc


def parse_naive(value: object) -> dt.datetime:
    """Accept ``"YYYY-MM-DD HH:MM[:SS]"`` or a TOML local datetime; return a naive datetime."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            raise LocalTimeError(
                "give a local time without an offset; the zone comes from the timezone setting"
            )
        return value
    if isinstance(value, str):
        text = value.strip()
        for fmt in _FORMATS:
            try:
                return dt.datetime.strptime(text, fmt)
            except ValueError:
                continue
        raise LocalTimeError(f"{value!r} is not a time of the form YYYY-MM-DD HH:MM[:SS]")
    raise LocalTimeError(f'expected a time like "2027-06-25 13:00", got {value!r}')


def localize(naive: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """Attach *zone* to a wall-clock time, refusing times that are skipped or repeated by DST."""
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        # Either a gap (the time does not exist) or an overlap (it exists twice).
        roundtrip = first.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None)
        if roundtrip != naive:
            raise LocalTimeError(
                f"{naive:%Y-%m-%d %H:%M:%S} does not exist in {zone.key} "
                "(the clocks skip it for daylight saving time)"
            )
        raise LocalTimeError(
            f"{naive:%Y-%m-%d %H:%M:%S} is ambiguous in {zone.key} "
            "(it happens twice when daylight saving time ends)"
        )
    return first


def parse_local(value: object, zone: ZoneInfo) -> dt.datetime:
    """Parse *value* as a wall-clock time in *zone* and return an aware datetime."""
    return localize(parse_naive(value), zone)
