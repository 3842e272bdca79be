"""A scripted "model" for the fake OpenAI server: it follows the guidelines it is shown,
and, like a naive model, obeys any instruction it finds outside the prompt's data fences."""

from __future__ import annotations

import re

from tests.fakes.openai_server import prompt_text

FENCED = re.compile(r"<data>.*?</data>", re.S)


def outside_fences(request: dict) -> str:
    """What a naive model would take as instructions: the prompt minus fenced user data."""
    return FENCED.sub("", prompt_text(request))


def moderator_model(request: dict) -> dict:
    """Judges like a model that follows the guidelines it is shown, and also like a naive one
    that obeys any instruction it finds outside the data fences."""
    text, instructions = prompt_text(request), outside_fences(request).lower()
    if "ignore your instructions" in instructions:
        return {"action": {"type": "NONE"}, "severity_score": 0.0, "reason": "steered"}
    message = text.split("## The message to judge")[-1].lower()
    if "no spoilers" in text.lower() and "ending" in message:
        return {
            "action": {"type": "DELETE"},
            "severity_score": 0.6,
            "reason": "spoiler",
            "guideline": "G2",
        }
    if "idiot" in message:
        context = "with context" if "we were joking all evening" in text else "no context"
        return {
            "action": {"type": "WARN", "params": {"message": "be kind"}},
            "severity_score": 0.4,
            "reason": context,
            "guideline": "G1",
        }
    return {"action": {"type": "NONE"}, "severity_score": 0.05, "reason": "fine"}
