"""The OpenAI fake, driven by the real `openai.AsyncOpenAI` client and `instructor`.

These pin what later tests rely on: the prompt reaches the responder, instructor's parsing
accepts the fake's answers in TOOLS and JSON modes, a malformed answer is re-asked with the
validation error, and server errors and timeouts surface as the real client's exceptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal

import httpx
import instructor
import openai
import pytest
from instructor.core import InstructorRetryException
from pydantic import BaseModel, Field

from tests.fakes.openai_server import FakeOpenAI, prompt_text

MODES = [instructor.Mode.TOOLS, instructor.Mode.JSON]
MESSAGES = [
    {"role": "system", "content": "You are a moderator. Apply RULE-7: no threats."},
    {"role": "user", "content": "I will find you."},
]


class Action(BaseModel):
    type: Literal["NONE", "WARN", "DELETE"]
    params: dict[str, Any] = Field(default_factory=dict)


class Answer(BaseModel):
    action: Action
    severity_score: float = Field(ge=0, le=1)
    reason: str
    guideline: str | None = None


def rule7_responder(body: dict[str, Any]) -> dict[str, Any]:
    """Severe only when the policy text reached the server, so a lost prompt shows up."""
    if "RULE-7" in prompt_text(body):
        return {"action": {"type": "DELETE"}, "severity_score": 0.9, "reason": "RULE-7"}
    return {"action": {"type": "NONE"}, "severity_score": 0.2, "reason": "no rule"}


@pytest.fixture()
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@contextlib.asynccontextmanager
async def structured(
    fake: FakeOpenAI, mode: instructor.Mode, timeout: float = 2.0
) -> AsyncIterator[instructor.AsyncInstructor]:
    """A real OpenAI client (no client-side retries) wrapped by instructor."""
    async with openai.AsyncOpenAI(
        base_url=fake.base_url, api_key="test", max_retries=0, timeout=timeout
    ) as raw:
        yield instructor.from_openai(raw, mode=mode)


async def wait_until_served(
    fake: FakeOpenAI, request: asyncio.Task, timeout_s: float = 5.0
) -> None:
    """Poll until the fake has recorded a request; fail (not hang) if it never does."""
    deadline = time.monotonic() + timeout_s
    while not fake.requests:
        if request.done():
            error = None if request.cancelled() else request.exception()
            raise AssertionError(
                f"the request ended before the fake recorded it ({error!r}): "
                f"requests={fake.requests!r}"
            ) from error
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the fake recorded no request within {timeout_s}s: requests={fake.requests!r}"
            )
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("mode", MODES)
async def test_answer_follows_the_prompt(fake: FakeOpenAI, mode: instructor.Mode) -> None:
    fake.responder = rule7_responder
    async with structured(fake, mode) as client:
        answer, completion = await client.chat.completions.create_with_completion(
            model="fake-model", response_model=Answer, messages=MESSAGES, max_retries=2
        )
        other = await client.chat.completions.create(
            model="fake-model",
            response_model=Answer,
            messages=[{"role": "user", "content": "hello"}],
            max_retries=2,
        )
    expected = Answer(action=Action(type="DELETE"), severity_score=0.9, reason="RULE-7")
    assert answer.model_dump() == expected.model_dump()  # == would compare instructor's extras
    assert other.severity_score == 0.2
    assert completion.model == "fake-model"
    assert completion.usage is not None and completion.usage.total_tokens > 0
    assert len(fake.requests) == 2
    first = fake.requests[0]
    if mode is instructor.Mode.TOOLS:
        assert first["tool_choice"]["function"]["name"] == first["tools"][0]["function"]["name"]
        assert completion.choices[0].finish_reason == "tool_calls"
    else:
        assert "tools" not in first and first["response_format"] == {"type": "json_object"}
        assert completion.choices[0].finish_reason == "stop"


async def test_default_responder(fake: FakeOpenAI) -> None:
    async with structured(fake, instructor.Mode.TOOLS) as client:
        answer = await client.chat.completions.create(
            model="fake-model", response_model=Answer, messages=MESSAGES, max_retries=0
        )
    assert answer.action.type == "NONE" and answer.reason == "default fake answer"


@pytest.mark.parametrize("mode", MODES)
async def test_malformed_answer_is_reasked(fake: FakeOpenAI, mode: instructor.Mode) -> None:
    fake.responder = rule7_responder
    fake.mode = "malformed_once"
    async with structured(fake, mode) as client:
        answer = await client.chat.completions.create(
            model="fake-model", response_model=Answer, messages=MESSAGES, max_retries=2
        )
    assert answer.severity_score == 0.9
    assert fake.mode == "ok"
    assert len(fake.requests) == 2
    reask = prompt_text(fake.requests[1])
    assert "validation error" in reask.lower() and "severity_score" in reask


async def test_server_error_raises(fake: FakeOpenAI) -> None:
    fake.mode = "error"
    async with structured(fake, instructor.Mode.TOOLS) as client:
        with pytest.raises(InstructorRetryException) as caught:
            await client.chat.completions.create(
                model="fake-model", response_model=Answer, messages=MESSAGES, max_retries=2
            )
    cause = caught.value.__cause__
    assert isinstance(cause, openai.InternalServerError)
    assert cause.status_code == 500 and "fake upstream failure" in cause.message
    assert len(fake.requests) == 1  # instructor re-asks on bad output, not on API errors


async def test_slow_answer_times_out_and_server_still_stops(fake: FakeOpenAI) -> None:
    fake.mode = "slow"
    fake.slow_s = 3
    async with structured(fake, instructor.Mode.TOOLS, timeout=0.5) as client:
        with pytest.raises(InstructorRetryException) as caught:
            await client.chat.completions.create(
                model="fake-model", response_model=Answer, messages=MESSAGES, max_retries=2
            )
    assert isinstance(caught.value.__cause__, openai.APITimeoutError)
    assert len(fake.requests) == 1
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 1.5  # woke the slow answer instead of waiting it out


async def test_slow_answer_does_not_block_other_requests(fake: FakeOpenAI) -> None:
    fake.mode = "slow"
    fake.slow_s = 5
    async with httpx.AsyncClient(base_url=fake.base_url, timeout=1.0) as http:
        body = {"model": "fake-model", "messages": MESSAGES}
        slow = asyncio.create_task(http.post("/chat/completions", json=body, timeout=10))
        await wait_until_served(fake, slow)
        assert (await http.get("/models")).json()["data"][0]["id"] == "fake-model"
        assert not slow.done()
        slow.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(slow, 5)  # raises TimeoutError if the cancel never lands
