"""Records on the wire and API models: one definition each."""

from gova.schemas.content import ContentEvent, ContentMetadata, ContentType
from gova.schemas.pipeline import Behaviour, DeadLetter, Item, Language, Submission, Verdict
from gova.schemas.policy import Policy

__all__ = [
    "Behaviour",
    "ContentEvent",
    "ContentMetadata",
    "ContentType",
    "DeadLetter",
    "Item",
    "Language",
    "Policy",
    "Submission",
    "Verdict",
]
