"""What reviewing one tenant's items takes: its LLM (or the deployment's), the moderator's
guidelines and the budget, read from storage and cached briefly; and the reviewer's input.

Apart from the review stage so that `gova review --dry-run` shows the exact prompt without
starting (or importing) the Faust app.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from gova import secrets
from gova.models.reviewer import PROMPT_VERSION, LLMConfig, ReviewInput, build_messages
from gova.schemas import Behaviour, ContentEvent, Item, Policy
from gova.schemas.review import ChannelMessage
from gova.settings import get_settings
from gova.storage.interface import Storage

STAGE_OFF = (
    "review stage off: no LLM configured (set LLM_BASE_URL and LLM_MODEL, or the tenant's "
    "PUT /api/v1/llm)"
)


@dataclass
class Setup:
    llm: LLMConfig | None
    guidelines: str
    server_summary: str
    budget: int
    off_reason: str = STAGE_OFF


_setups: dict[tuple[str, str], tuple[float, Setup]] = {}


async def setup_for(storage: Storage, tenant_id: str, moderator: str) -> Setup:
    """The tenant's setup for `moderator`, re-read after `review_config_ttl_s`."""
    settings = get_settings()
    now = time.monotonic()
    hit = _setups.get((tenant_id, moderator))
    if hit and hit[0] > now:
        return hit[1]
    llm_row = await storage.review.get_llm(tenant_id)
    record = await storage.moderators.get(tenant_id, moderator)
    config = record.config if record else {}
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


def review_input(item: Item, setup: Setup, channel: list[ChannelMessage]) -> ReviewInput:
    author = item.behaviour or Behaviour()
    return ReviewInput(
        message=item.event.content,
        author_id=item.event.user_id,
        guidelines=setup.guidelines,
        server_summary=setup.server_summary,
        metadata=item.event.metadata.model_dump(mode="json"),
        channel=channel,
        behaviour_score=author.score,
        strikes=author.strikes,
        scores=item.scores or {},
    )


async def dry_run(
    storage: Storage, tenant_id: str, moderator: str, text: str, author: str, context: list[str]
) -> dict:
    """The exact prompt the reviewer would send for a message, without sending it;
    `context` holds earlier channel messages as "author: text", oldest first."""
    setup = await setup_for(storage, tenant_id, moderator)
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
    channel = []
    for i, line in enumerate(context):
        who, _, said = line.partition(":")
        channel.append(
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
        "messages": build_messages(review_input(item, setup, channel)),
    }
