"""Changelog-backed state (`authors`) and the pure arithmetic it keeps (one module each)."""
