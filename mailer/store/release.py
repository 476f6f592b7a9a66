"""Queries of the release area (filled in by the issue that owns it)."""

from __future__ import annotations

MIGRATIONS: dict[int, str] = {}
