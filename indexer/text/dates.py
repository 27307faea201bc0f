"""Dates as the sources write them, turned into ISO "YYYY-MM-DD"."""

from __future__ import annotations

from datetime import UTC, datetime


def epoch_ms_to_iso(value: object) -> str:
    """Légifrance API dates are epoch milliseconds; 2999-01-01 means "no end"."""
    if not isinstance(value, int | float) or value <= 0:
        return ""
    moment = datetime.fromtimestamp(value / 1000, tz=UTC)
    if moment.year >= 2999:
        return ""
    return moment.date().isoformat()
