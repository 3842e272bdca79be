"""Joining the parts of one item (its content and its attachments, each classified by its
own stage) before the policy decides: kept in a changelog table keyed by item, concluded
when every part is in, or when the oldest has waited GOVA_PARTS_TIMEOUT_S (a lost part
never holds the verdict forever). A concluded item leaves a small marker behind for
GOVA_PARTS_REMEMBER_S, so that a part delivered again (a consumer that restarts before its
offset is committed) is dropped instead of opening a second join that would decide the
item, and count against its author, twice."""

from __future__ import annotations

from gova.core.effects import Delete, Outcome, Put
from gova.core.keys import item_key
from gova.core.policy import flagged
from gova.schemas import Item
from gova.schemas.pipeline import PartResult

#: The changelog table of items waiting for their parts, keyed `tenant:author|content id`
#: (read only by decide, whose stream is keyed `tenant:author`: the same partition).
PARTS = "parts"


def key_of(item: Item) -> str:
    return item_key(item.tenant_id, item.event.user_id, item.event.id)


def gather(item: Item, state: dict | None, now: float) -> Outcome:
    """Add a part. The result is the joined item once every part is in (the entry then
    becomes a `concluded` marker), else None (the entry kept, stamped with when its first
    part came). A part of an item concluded already is dropped."""
    if _concluded(state):
        return Outcome(None, [])
    state = {"first_at": now, "parts": item.parts, "items": {}} if state is None else state
    state["items"][str(item.part)] = item.model_dump(mode="json", by_alias=True)
    key = key_of(item)
    if len(state["items"]) < item.parts:
        return Outcome(None, [Put(PARTS, key, state)])
    return Outcome(joined(state, item.parts), [Put(PARTS, key, concluded(now))])


def concluded(now: float) -> dict:
    """What stays of an item once it is joined: when, and nothing of its content."""
    return {"concluded_at": now}


def _concluded(state: dict | None) -> bool:
    return state is not None and "concluded_at" in state


def overdue(state: dict | None, now: float, timeout_s: float, remember_s: float) -> bool:
    """An entry whose parts have waited long enough, or a marker old enough to forget."""
    if state is None:
        return False
    if _concluded(state):
        return now - state["concluded_at"] >= remember_s
    return now - state["first_at"] >= timeout_s


def expire(
    key: str, state: dict | None, now: float, timeout_s: float, remember_s: float
) -> Outcome:
    """An entry whose wait is over: the item joined from the parts that came (the rest
    named in `parts_missing`), the entry a marker; a marker past GOVA_PARTS_REMEMBER_S
    removed. None for the result in every other case."""
    if not overdue(state, now, timeout_s, remember_s):
        return Outcome(None, [])
    assert state is not None
    if _concluded(state):
        return Outcome(None, [Delete(PARTS, key)])
    return Outcome(joined(state, state["parts"]), [Put(PARTS, key, concluded(now))])


def joined(state: dict, parts: int) -> Item:
    """One item from the parts that came: each part's result (flagged by its own policy),
    each category's highest score, and the parts missing."""
    items = sorted((Item.model_validate(v) for v in state["items"].values()), key=lambda i: i.part)
    results = [
        PartResult(
            part=i.part,
            name=_name(i),
            content_type=i.media.kind if i.part and i.media else i.event.content_type,
            scores=i.scores or {},
            flagged=flagged(i.policy, i.scores or {}),
            model=i.model,
            media=i.media,
        )
        for i in items
    ]
    scores: dict[str, float] = {}
    for r in results:
        for c, s in r.scores.items():
            scores[c] = max(scores.get(c, 0.0), s)
    present = {i.part for i in items}
    primary = items[0]
    return primary.model_copy(
        update={
            "scores": scores,
            "part_results": results,
            "parts_missing": [p for p in range(parts) if p not in present],
            "media": next((i.media for i in items if i.part == 0), None),
        }
    )


def _name(item: Item) -> str | None:
    """An attachment part's name, as its sender gave it."""
    attachments = item.event.attachments
    return attachments[item.part - 1].name if 0 < item.part <= len(attachments) else None


def triggered_by(results: list[PartResult]) -> int | None:
    """The part whose flagged score is highest (None when no part is flagged)."""
    best = max(((r.scores[c], -r.part, r.part) for r in results for c in r.flagged), default=None)
    return best[2] if best else None
