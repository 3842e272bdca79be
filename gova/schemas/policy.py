"""A tenant's moderation policy: per-category thresholds over classifier scores."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator


class Policy(BaseModel):
    thresholds: dict[str, float] = Field(default_factory=dict)

    @field_validator("thresholds")
    @classmethod
    def _in_unit_interval(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if not 0.0 <= v <= 1.0}
        if bad:
            raise ValueError(f"thresholds must lie in [0, 1]: {bad}")
        return value

    def merged_over(self, defaults: dict[str, float]) -> Policy:
        """The tenant's overrides on top of the deployment defaults."""
        return Policy(thresholds={**defaults, **self.thresholds})

    def flagged(self, scores: dict[str, float]) -> list[str]:
        return sorted(
            c for c, s in scores.items() if c in self.thresholds and s >= self.thresholds[c]
        )
