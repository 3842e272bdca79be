"""content.review → the LLM reviewer, judged against the moderator's guidelines and the
channel's recent messages → moderation.results.

Cost and failure stay bounded: only the policy's uncertain band arrives here; each tenant
has a monthly token budget; a circuit breaker per endpoint stops calling a failing server.
Whatever happens, the item leaves with a verdict: reviewed, or the classifier's with the
reason the review was skipped.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from gova import db, secrets
from gova.agents.base import each_event, emit, with_db
from gova.agents.channel_context import recent_messages
from gova.agents.decide import flagged_severity, verdict_for
from gova.models.reviewer import (
    PROMPT_VERSION,
    CircuitBreaker,
    LLMConfig,
    Reviewer,
    ReviewInput,
    build_messages,
)
from gova.pipeline import app, settings, topics
from gova.schemas import Behaviour, ContentEvent, Item, Policy, Verdict
from gova.schemas.review import AuthorSeverity, ChannelMessage, Review
from gova.streams import AUTHORS_SEVERITY, CONTENT_REVIEW, MODERATION_RESULTS

log = logging.getLogger(__name__)

STAGE_OFF = (
    "review stage off: no LLM configured (set LLM_BASE_URL and LLM_MODEL, or the tenant's "
    "PUT /api/v1/llm)"
)


@dataclass
class Setup:
    """What reviewing one tenant's items takes, read from PostgreSQL (cached briefly)."""

    llm: LLMConfig | None
    guidelines: str
    server_summary: str
    budget: int
    off_reason: str = STAGE_OFF


_setups: dict[tuple[str, str], tuple[float, Setup]] = {}
_breakers: dict[tuple[str, str], CircuitBreaker] = {}
_reviewers: dict[tuple[str, str, str | None], Reviewer] = {}


async def setup_for(tenant_id: str, moderator: str) -> Setup:
    now = time.monotonic()
    hit = _setups.get((tenant_id, moderator))
    if hit and hit[0] > now:
        return hit[1]
    llm_row = await with_db(lambda pool: db.get_tenant_llm(pool, tenant_id))
    config = await with_db(lambda pool: db.get_moderator(pool, tenant_id, moderator)) or {}
    llm: LLMConfig | None = None
    off_reason = STAGE_OFF
    if llm_row.get("base_url") and llm_row.get("model"):
        try:
            key = llm_row.get("api_key")
            key = secrets.decrypt(settings.secret_key, key) if key else None
            llm = LLMConfig(llm_row["base_url"], llm_row["model"], key)
        except secrets.SecretsUnavailable as exc:
            off_reason = f"review stage off: the tenant's provider key is unreadable ({exc})"
    elif settings.llm_base_url and settings.llm_model:
        llm = LLMConfig(settings.llm_base_url, settings.llm_model, settings.llm_api_key)
    setup = Setup(
        llm=llm,
        guidelines=config.get("guidelines", ""),
        server_summary=config.get("server_summary", ""),
        budget=int(llm_row.get("monthly_token_budget") or settings.llm_monthly_token_budget),
        off_reason=off_reason,
    )
    _setups[(tenant_id, moderator)] = (now + settings.review_config_ttl_s, setup)
    return setup


def breaker_for(llm: LLMConfig) -> CircuitBreaker:
    key = (llm.base_url, llm.model)
    if key not in _breakers:
        _breakers[key] = CircuitBreaker(
            settings.review_breaker_failures, settings.review_breaker_reset_s
        )
    return _breakers[key]


def reviewer_for(llm: LLMConfig) -> Reviewer:
    key = (llm.base_url, llm.model, llm.api_key)
    if key not in _reviewers:
        _reviewers[key] = Reviewer(
            llm, timeout_s=settings.review_timeout_s, retries=settings.review_retries
        )
    return _reviewers[key]


def review_input(item: Item, setup: Setup) -> ReviewInput:
    author = item.behaviour or Behaviour()
    channel = item.channel_id
    return ReviewInput(
        message=item.event.content,
        author_id=item.event.user_id,
        guidelines=setup.guidelines,
        server_summary=setup.server_summary,
        metadata=item.event.metadata.model_dump(mode="json"),
        channel=recent_messages(item.tenant_id, channel, item.event.id) if channel else [],
        behaviour_score=author.score,
        strikes=author.strikes,
        scores=item.scores or {},
    )


def _is_outage(exc: BaseException) -> bool:
    """The server failed (network, timeout, 5xx), as opposed to answering invalidly."""
    import openai

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, openai.APIError | TimeoutError | ConnectionError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _spent(exc: BaseException) -> int:
    usage = getattr(exc, "total_usage", None)
    return int(getattr(usage, "total_tokens", 0) or 0)


async def run_review(item: Item, setup: Setup) -> Review:
    def skipped(reason: str, **kw: object) -> Review:
        return Review(status="skipped", reason=reason, prompt_version=PROMPT_VERSION, **kw)

    if setup.llm is None:
        return skipped(setup.off_reason)
    llm, moderator = setup.llm, item.moderator
    used = await with_db(lambda pool: db.month_tokens(pool, item.tenant_id))
    if used >= setup.budget:
        return skipped(f"monthly token budget exhausted ({used}/{setup.budget} tokens)")
    breaker = breaker_for(llm)
    if not breaker.allow():
        return skipped(
            f"reviewer unavailable: circuit open after {breaker.consecutive} consecutive failures",
            model=llm.model,
        )
    try:
        answer = await reviewer_for(llm).review(review_input(item, setup))
    except Exception as exc:
        outage = _is_outage(exc)
        if outage:
            breaker.failure()
        else:  # the server answered, just not validly: it is up
            breaker.success()
        if spent := _spent(exc):
            await with_db(lambda pool: db.add_usage(pool, item.tenant_id, moderator, spent))
        cause = "reviewer error" if outage else "invalid reviewer output after retries"
        log.warning("review of %s skipped: %s: %s", item.event.id, cause, exc)
        return skipped(f"{cause}: {type(exc).__name__}", model=llm.model, tokens=spent)
    breaker.success()
    await with_db(lambda pool: db.add_usage(pool, item.tenant_id, moderator, answer.tokens))
    return Review(
        status="reviewed",
        output=answer.output,
        model=llm.model,
        tokens=answer.tokens,
        latency_ms=answer.latency_ms,
        prompt_version=PROMPT_VERSION,
    )


async def review_item(item: Item) -> Verdict:
    review = await run_review(item, await setup_for(item.tenant_id, item.moderator))
    flagged = item.policy.flagged(item.scores or {})
    verdict = verdict_for(item, item.behaviour or Behaviour(), flagged, review)
    if review.output is not None:  # the reviewer's judgement counts, else the classifier's
        severity = review.output.severity_score if review.output.acts else 0.0
    else:
        severity = flagged_severity(item)
    if severity > 0:
        update = AuthorSeverity(
            tenant_id=item.tenant_id,
            author_id=item.event.user_id,
            content_id=item.event.id,
            severity=severity,
            at=item.received_at,
        )
        await emit(AUTHORS_SEVERITY, item.key, update)
    await emit(MODERATION_RESULTS, item.key, verdict)
    return verdict


# Reviews wait on a remote model: several at once per worker keep the stage moving.
@app.agent(topics[CONTENT_REVIEW.name], concurrency=settings.review_concurrency)
async def review(stream):
    async for outcome in each_event(stream, "review", Item, review_item):
        yield outcome


async def dry_run(
    tenant_id: str, moderator: str, text: str, author: str, context: list[str]
) -> dict:
    """The exact prompt the reviewer would send for a message, without sending it."""
    setup = await setup_for(tenant_id, moderator)
    item = Item(
        tenant_id=tenant_id,
        event=ContentEvent(
            id="dry-run",
            userId=author,
            contentType="text",
            content=text,
            metadata={"moderator": moderator},
        ),
        received_at=time.time(),
        policy=Policy(),
        text=text,
        content_hash="",
    )
    inp = review_input(item, setup)
    for i, line in enumerate(context):
        who, _, said = line.partition(":")
        inp.channel.append(
            ChannelMessage(
                tenant_id=tenant_id,
                channel_id="dry-run",
                content_id=f"c{i}",
                author_id=who.strip(),
                text=said.strip(),
                at=0.0,
            )
        )
    return {
        "stage": "off" if setup.llm is None else "on",
        "model": setup.llm.model if setup.llm else None,
        "base_url": setup.llm.base_url if setup.llm else None,
        "prompt_version": PROMPT_VERSION,
        "messages": build_messages(inp),
    }
