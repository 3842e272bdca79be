"""A moderator's state in the worker, from its lifecycle events (seed 000's Start, Stop and
UpdateConfig events): `{"config": …, "running": bool, "at": …}` per `tenant:moderator`."""

from __future__ import annotations

from gova.core.actions import MODERATORS
from gova.core.effects import Outcome, Put
from gova.schemas.actions import ModeratorConfig, ModeratorEvent


def apply_event(event: ModeratorEvent, state: dict | None) -> Outcome:
    """The moderator's state after `event`; an event older than the state is ignored, so a
    redelivered or reordered event never undoes a newer one."""
    state = dict(state or {"config": None, "running": False, "at": 0.0})
    if event.at < state["at"]:
        return Outcome(event, [])
    if event.type == "StartModeratorEvent":
        state["running"] = True
    elif event.type == "StopModeratorEvent":
        state["running"] = False
    if event.config is not None:
        state["config"] = event.config.model_dump(mode="json")
    state["at"] = event.at
    return Outcome(event, [Put(MODERATORS, event.moderator_key, state)])


def config_of(state: dict | None) -> tuple[ModeratorConfig | None, bool]:
    """The moderator's config (None if the worker has none yet) and whether it runs."""
    if not state or state.get("config") is None:
        return None, False
    return ModeratorConfig.model_validate(state["config"]), bool(state.get("running"))
