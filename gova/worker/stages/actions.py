"""moderation.actions → the planner (`gova.core.actions.plan`) → stored actions, approved
ones to actions.execute → the executor (Discord or a webhook) → EXECUTED or FAILED.

Both streams are keyed `tenant:moderator`, like the moderator table they read. The executor
claims an action with a conditional status update (APPROVED → EXECUTING) before calling out,
so a redelivered or re-approved action never runs twice, and renews the claim while the call
lasts; a sweeper (on the leader) expires actions nobody approved in time and hands back those
whose executor died mid-call (a claim not renewed within GOVA_ACTION_LEASE_S).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from gova import secrets
from gova.core.actions import ACTING_PLATFORMS, MODERATORS, plan
from gova.core.moderators import config_of
from gova.integrations.discord import bot_token
from gova.integrations.executors import ExecutionContext, ExecutionResult
from gova.schemas.actions import ActionEvent, ActionProposal, HistoryEntry
from gova.storage import PostgresStorage
from gova.streams import ACTIONS_EXECUTE, MODERATION_ACTIONS
from gova.worker.app import app, settings
from gova.worker.resources import resources
from gova.worker.stages.plumbing import applied, each_event, emit, with_storage
from gova.worker.tables import tables
from gova.worker.topics import topics

log = logging.getLogger(__name__)


async def plan_proposal(proposal: ActionProposal) -> list[ActionEvent]:
    config, running = config_of(tables[MODERATORS].get(proposal.moderator_key))
    return await applied(plan(proposal, config, running=running, now=time.time()))


async def _secret(storage: PostgresStorage, action: ActionEvent, platform: str) -> str | None:
    """The bot token (the tenant's, else the deployment's) or the webhook's signing secret."""
    if platform == "discord":
        return await bot_token(storage, settings, action.tenant_id)
    sealed = await storage.moderators.get_secret(action.tenant_id, action.moderator, "webhook")
    return secrets.decrypt(settings.secret_key, sealed) if sealed else None


def _settled(result: ExecutionResult) -> HistoryEntry:
    detail = {
        "attempts": [
            {"at": a.at, "status_code": a.status_code, "error": a.error} for a in result.attempts
        ],
        **(result.detail or {}),
    }
    return HistoryEntry(
        status="EXECUTED" if result.ok else "FAILED",
        at=time.time(),
        by="executor",
        error=None if result.ok else result.error,
        detail=detail,
    )


async def _renew(action: ActionEvent) -> None:
    every = settings.action_lease_s / 3
    while True:
        await asyncio.sleep(every)
        try:
            await with_storage(lambda s: s.actions.renew(action.tenant_id, action.id))
        except Exception:  # a missed renewal shortens the lease; it fails no action
            log.exception("actions: could not renew the claim on %s", action.id)


@contextlib.asynccontextmanager
async def _claim_held(action: ActionEvent):
    """Renew the claim while the executor works: a platform slower than the lease (Discord's
    429 waits and retries can be) must not look like a dead executor, whose claim the
    sweeper hands back for a second run."""
    renewing = asyncio.create_task(_renew(action))
    try:
        yield
    finally:
        renewing.cancel()


async def execute(action: ActionEvent) -> ActionEvent | None:
    """Claim, run and settle one approved action; None when another run already has it."""
    taking = HistoryEntry(status="EXECUTING", at=time.time(), by="executor")
    claimed = await with_storage(
        lambda s: s.actions.transition(
            action.tenant_id, action.id, ("APPROVED",), taking, claim=True
        )
    )
    if claimed is None:
        return None
    config, _ = config_of(tables[MODERATORS].get(claimed.moderator_key))
    try:
        if config is None or config.platform not in ACTING_PLATFORMS:
            raise ValueError("the moderator has no platform to act on (discord or webhook)")
        storage = await resources.storage()
        secret = await _secret(storage, claimed, config.platform)
        # Only webhook deliveries carry the verdict; Discord needs none of it.
        verdict = (
            await storage.verdicts.get(claimed.tenant_id, claimed.content_id)
            if config.platform == "webhook"
            else None
        )
        async with _claim_held(claimed):
            result = await resources.executor(config.platform).execute(
                claimed, ExecutionContext(config=config, secret=secret, verdict=verdict)
            )
        entry = _settled(result)
    except (ValueError, secrets.SecretsUnavailable) as exc:
        entry = HistoryEntry(status="FAILED", at=time.time(), by="executor", error=str(exc))
    return await with_storage(
        lambda s: s.actions.transition(claimed.tenant_id, claimed.id, ("EXECUTING",), entry)
    )


@app.agent(topics[MODERATION_ACTIONS.name])
async def plan_actions(stream):
    async for outcome in each_event(stream, "plan_actions", ActionProposal, plan_proposal):
        yield outcome


@app.agent(topics[ACTIONS_EXECUTE.name])
async def execute_actions(stream):
    async for outcome in each_event(stream, "execute_actions", ActionEvent, execute):
        yield outcome


async def sweep(now: float) -> tuple[int, int]:
    """Expire actions awaiting approval past GOVA_APPROVAL_TTL_S; hand back for retry those
    an executor took more than GOVA_ACTION_LEASE_S ago without settling. Returns the counts."""
    storage = await resources.storage()
    expired = 0
    for action in await storage.actions.overdue("AWAITING_APPROVAL", now - settings.approval_ttl_s):
        entry = HistoryEntry(
            status="EXPIRED",
            at=now,
            by="sweeper",
            error=f"not approved within {settings.approval_ttl_s:g}s",
        )
        expired += bool(
            await storage.actions.transition(
                action.tenant_id, action.id, ("AWAITING_APPROVAL",), entry
            )
        )
    retried = 0
    for action in await storage.actions.overdue(
        "EXECUTING", now - settings.action_lease_s, claimed=True
    ):
        entry = HistoryEntry(
            status="APPROVED",
            at=now,
            by="sweeper",
            error=f"the executor did not settle it within {settings.action_lease_s:g}s; retried",
        )
        back = await storage.actions.transition(action.tenant_id, action.id, ("EXECUTING",), entry)
        if back is not None:
            await emit(ACTIONS_EXECUTE, back.moderator_key, back)
            retried += 1
    return expired, retried


@app.timer(settings.action_sweep_interval_s, on_leader=True)
async def sweep_actions() -> None:
    expired, retried = await sweep(time.time())
    if expired or retried:
        log.info("actions: %d expired, %d handed back for retry", expired, retried)
