"""The review stage through the running stack: configured over the API, fed by the channel's
conversation, reviewed by a local OpenAI-compatible server, stored and metered."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import new_tenant
from tests.fakes.openai_server import FakeOpenAI, prompt_text
from tests.fakes.scripted_moderator import moderator_model
from tests.integration.conftest import client_for, event, eventually, new_id

GUIDELINES = "G1: Be kind; no insults.\nG2: No spoilers about the film's ending."


@pytest.fixture(scope="module")
def fake():
    with FakeOpenAI(moderator_model) as server:
        yield server


async def test_review_end_to_end(running, pool, fake):
    tenant = await new_tenant(pool, "filmclub")
    async with client_for(running, tenant["key"]) as api:
        r = await api.put(
            "/api/v1/llm",
            json={"base_url": fake.base_url, "model": "club-model", "api_key": "sk-club-secret"},
        )
        assert r.status_code == 200 and r.json()["has_api_key"] and "api_key" not in r.json()
        stored = await pool.fetchval("SELECT llm->>'api_key' FROM tenants WHERE id = 'filmclub'")
        assert stored and "sk-club-secret" not in stored  # encrypted at rest
        r = await api.put(
            "/api/v1/moderators/default",
            json={"guidelines": GUIDELINES, "server_summary": "A film club."},
        )
        assert r.status_code == 200
        r = await api.put("/api/v1/policy", json={"review_band": [0.0, 1.0]})
        assert r.json()["effective"]["review_band"] == [0.0, 1.0]

        channel = {"channelId": new_id("chan")}
        first = await api.post(
            "/api/v1/moderate?wait=true",
            json=event(new_id(), "we were joking all evening", metadata=channel),
        )
        assert first.json()["review"]["status"] == "reviewed"
        assert first.json()["decision"] == "allow"
        spoiler = event(new_id(), "you idiot, the ending is that he dies", metadata=channel)
        second = await api.post("/api/v1/moderate?wait=true", json=spoiler)
        verdict = second.json()
        assert verdict["decision"] == "act"
        assert verdict["review"]["output"]["guideline"] == "G2"
        assert verdict["review"]["model"] == "club-model" and verdict["review"]["tokens"] > 0
        prompt = prompt_text(fake.requests[-1])
        assert "No spoilers" in prompt and "A film club." in prompt
        assert "we were joking all evening" in prompt  # the channel's context reached the model
        assert fake.requests[-1]["model"] == "club-model"

        row = await pool.fetchrow(
            "SELECT severity_score, tokens, prompt_version FROM evaluation_events"
            " WHERE tenant_id = 'filmclub' AND content_id = $1 AND stage = 'review'",
            verdict["content_id"],
        )
        assert row["severity_score"] == pytest.approx(0.6) and row["prompt_version"]
        usage = (await api.get("/api/v1/usage")).json()
        assert usage["tokens_this_month"] >= verdict["review"]["tokens"]
        assert usage["by_moderator"][0]["moderator"] == "default"

        # The reviewer's judgement became a strike for its author.
        async def strikes():
            again = event(new_id(), "nice weather", user=spoiler["userId"], metadata=channel)
            r = await api.post("/api/v1/moderate?wait=true", json=again)
            return r.json()["behaviour"]["strikes"] or None

        assert await eventually(strikes) == 1

        bad = await api.put("/api/v1/llm", json={"base_url": "not a url", "model": "x"})
        assert bad.status_code == 422 and "base_url" in bad.json()["detail"]
        elsewhere = {"base_url": "http://169.254.169.254/v1", "model": "x"}
        bad = await api.put("/api/v1/llm", json=elsewhere)
        assert bad.status_code == 422 and "not allowed" in bad.json()["detail"]
        assert (await api.get("/api/v1/llm")).json()["model"] == "club-model"  # unchanged


def test_dry_run_shows_the_exact_prompt(running):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gova",
            "review",
            "--dry-run",
            "--tenant",
            "filmclub",
            "--text",
            "what a twist at the end",
            "--context",
            "alice: did you see it?",
        ],
        env=running.child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "stage: on" in proc.stdout and "club-model" in proc.stdout
    assert "G2: No spoilers" in proc.stdout
    assert "did you see it?" in proc.stdout and "what a twist at the end" in proc.stdout
    assert "sk-club-secret" not in proc.stdout


async def test_context_dependent_guidelines_send_every_item_to_review(running, pool, fake):
    tenant = await new_tenant(pool, "bookclub")
    async with client_for(running, tenant["key"]) as api:
        await api.put("/api/v1/llm", json={"base_url": fake.base_url, "model": "book-model"})
        await api.put("/api/v1/policy", json={"review_band": [0.0, 0.0]})  # scores alone: none
        r = await api.put(
            "/api/v1/moderators/spoilers",
            json={"guidelines": GUIDELINES, "context_dependent": True},
        )
        assert r.status_code == 200 and r.json()["context_dependent"] is True

        spoiler = "in the ending the detective turns out to be the killer"
        by_guideline = await api.post(
            "/api/v1/moderate?wait=true",
            json=event(new_id(), spoiler, metadata={"moderator": "spoilers"}),
        )
        by_scores = await api.post("/api/v1/moderate?wait=true", json=event(new_id(), spoiler))
    assert by_guideline.json()["review"]["output"]["guideline"] == "G2"
    assert by_guideline.json()["decision"] == "act"
    assert by_scores.json()["review"] is None and by_scores.json()["decision"] == "allow"
