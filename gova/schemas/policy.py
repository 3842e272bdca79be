"""A tenant's moderation policy: per-category thresholds over classifier scores (applied by
`gova.core.policy`)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator


class Policy(BaseModel):
    thresholds: dict[str, float] = Field(default_factory=dict)
    # Highest classifier score in [low, high) → the LLM reviewer; None: the deployment's band.
    review_band: tuple[float, float] | None = None

    @field_validator("review_band")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not 0.0 <= value[0] <= value[1] <= 1.0:
            raise ValueError(f"review_band must be 0 <= low <= high <= 1: {value}")
        return value

    @field_validator("thresholds")
    @classmethod
    def _in_unit_interval(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if not 0.0 <= v <= 1.0}
        if bad:
            raise ValueError(f"thresholds must lie in [0, 1]: {bad}")
        return value

    def merged_over(
        self, defaults: dict[str, float], review_band: tuple[float, float] | None = None
    ) -> Policy:
        """The tenant's overrides on top of the deployment defaults."""
        return Policy(
            thresholds={**defaults, **self.thresholds},
            review_band=self.review_band or review_band,
        )
