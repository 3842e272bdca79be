"""Agents under Faust's test_context, with real Redis and PostgreSQL.

The broker is replaced only at the send boundary: what an agent sends downstream is
captured here; integration tests cover the real hops.
"""

from __future__ import annotations

import time
import uuid

import pytest

from gova.schemas import ContentEvent, Policy, Submission


@pytest.fixture()
def sent(monkeypatch):
    from gova.worker.topics import topics

    out: list[tuple[str, str, bytes]] = []
    for name, topic in topics.items():

        async def capture(*, key, value, _name=name, **kw):
            out.append((_name, key.decode(), value))

        monkeypatch.setattr(topic, "send", capture)
    return out


def make_submission(
    cid: str,
    text: str,
    *,
    user: str | None = None,
    tenant: str = "acme",
    thresholds: dict | None = None,
    content_type: str = "text",
    received_at: float | None = None,
) -> Submission:
    return Submission(
        tenant_id=tenant,
        event=ContentEvent(
            id=cid,
            userId=user or f"author-{uuid.uuid4().hex[:8]}",
            contentType=content_type,
            content=text,
        ),
        received_at=received_at if received_at is not None else time.time(),
        policy=Policy(thresholds=thresholds or {"toxicity": 0.8}),
    )


def wire(record) -> bytes:
    return record.model_dump_json(by_alias=True).encode()
