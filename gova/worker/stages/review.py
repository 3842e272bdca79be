"""content.review → the LLM reviewer, judged against the moderator's guidelines and the
channel's recent messages → moderation.results (and authors.severity, `gova.core.decide`).

Cost and failure stay bounded: only the policy's uncertain band arrives here; each tenant
has a monthly token budget; a circuit breaker per endpoint stops calling a failing server.
Whatever happens, the item leaves with a verdict: reviewed, or the classifier's with the
reason the review was skipped.
"""

from __future__ import annotations

import logging

from gova.core.decide import conclude_review
from gova.models.reviewer import PROMPT_VERSION, CircuitBreaker, CircuitOpen, LLMConfig, Reviewer
from gova.schemas import Item, Verdict
from gova.schemas.review import Review
from gova.streams import CONTENT_REVIEW
from gova.worker.app import app, settings
from gova.worker.review_setup import Setup, review_input, setup_for
from gova.worker.stages.channel_context import recent_messages
from gova.worker.stages.plumbing import applied, each_event, with_storage
from gova.worker.topics import topics

log = logging.getLogger(__name__)

_breakers: dict[tuple[str, str], CircuitBreaker] = {}
_reviewers: dict[tuple[str, str, str | None], Reviewer] = {}


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


def is_outage(exc: BaseException) -> bool:
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
    llm, tenant, moderator = setup.llm, item.tenant_id, item.moderator
    used = await with_storage(lambda storage: storage.review.month_tokens(tenant))
    if used >= setup.budget:
        return skipped(f"monthly token budget exhausted ({used}/{setup.budget} tokens)")
    channel = recent_messages(tenant, item.channel_id, item.event.id) if item.channel_id else []
    try:
        with breaker_for(llm).guard(is_outage):
            answer = await reviewer_for(llm).review(review_input(item, setup, channel))
    except CircuitOpen as exc:
        return skipped(f"reviewer unavailable: {exc}", model=llm.model)
    except Exception as exc:
        if spent := _spent(exc):
            await with_storage(lambda storage: storage.review.add_usage(tenant, moderator, spent))
        cause = "reviewer error" if is_outage(exc) else "invalid reviewer output after retries"
        log.warning("review of %s skipped: %s: %s", item.event.id, cause, exc)
        return skipped(f"{cause}: {type(exc).__name__}", model=llm.model, tokens=spent)
    await with_storage(lambda storage: storage.review.add_usage(tenant, moderator, answer.tokens))
    return Review(
        status="reviewed",
        output=answer.output,
        model=llm.model,
        tokens=answer.tokens,
        latency_ms=answer.latency_ms,
        prompt_version=PROMPT_VERSION,
    )


async def review_item(item: Item) -> Verdict:
    setup = await with_storage(lambda storage: setup_for(storage, item.tenant_id, item.moderator))
    return await applied(conclude_review(item, await run_review(item, setup)))


# Reviews wait on a remote model: several at once per worker keep the stage moving.
@app.agent(topics[CONTENT_REVIEW.name], concurrency=settings.review_concurrency)
async def review(stream):
    async for outcome in each_event(stream, "review", Item, review_item):
        yield outcome
