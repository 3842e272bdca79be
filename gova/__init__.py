"""Gova: a real-time, self-hosted, policy-aware content-moderation pipeline."""

__version__ = "0.1.0"
