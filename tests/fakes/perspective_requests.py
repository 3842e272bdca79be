"""Request bodies in the shapes Perspective API's documentation shows its clients sending
(https://developers.perspectiveapi.com/s/about-the-api-methods), each with what must hold in
Gova's answer: the attributes returned and how many span scores each carries."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recorded:
    name: str
    body: dict
    attributes: tuple[str, ...]  # exactly the keys of attributeScores
    spans: int  # spanScores per attribute


REQUESTS = [
    # The documentation's first example, verbatim.
    Recorded(
        "docs example",
        {
            "comment": {"text": "What kind of idiot name is foo?"},
            "languages": ["en"],
            "requestedAttributes": {"TOXICITY": {}},
        },
        ("TOXICITY",),
        1,
    ),
    Recorded(
        "several attributes",
        {
            "comment": {
                "text": "You are a complete moron and nobody likes you.",
                "type": "PLAIN_TEXT",
            },
            "languages": ["en"],
            "requestedAttributes": {
                "TOXICITY": {},
                "SEVERE_TOXICITY": {},
                "IDENTITY_ATTACK": {},
                "INSULT": {},
                "PROFANITY": {},
                "THREAT": {},
            },
        },
        ("TOXICITY", "SEVERE_TOXICITY", "IDENTITY_ATTACK", "INSULT", "PROFANITY", "THREAT"),
        1,
    ),
    Recorded(
        "span annotations",
        {
            "comment": {"text": "Thanks for the review. You are an idiot!\nSee you tomorrow."},
            "requestedAttributes": {"TOXICITY": {"scoreType": "PROBABILITY"}, "INSULT": {}},
            "spanAnnotations": True,
        },
        ("TOXICITY", "INSULT"),
        3,
    ),
    Recorded(
        "score threshold",
        {
            "comment": {"text": "Thanks, have a nice day."},
            "languages": ["en"],
            "requestedAttributes": {
                "TOXICITY": {"scoreThreshold": 0.99},
                "INSULT": {"scoreThreshold": 0.0},
            },
        },
        ("INSULT",),
        1,
    ),
    Recorded(
        "client token, doNotStore and context",
        {
            "comment": {"text": "I disagree with your point about the budget."},
            "context": {"entries": [{"text": "The budget is too high.", "type": "PLAIN_TEXT"}]},
            "requestedAttributes": {"TOXICITY": {"scoreType": "PROBABILITY"}},
            "languages": ["en"],
            "doNotStore": True,
            "clientToken": "comment-8841",
            "sessionId": "s-1",
            "communityId": "forum/budget",
        },
        ("TOXICITY",),
        1,
    ),
]
