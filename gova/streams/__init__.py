"""Every topic of the topology, with its partitions and retention.

The list is pure data so the API, `gova up` and the worker share one declaration; the
worker turns it into Faust topics in `gova.worker.topics`. Every topic is created explicitly
(`gova.streams.admin.ensure_topics`): the embedded broker auto-creates with 4 partitions,
which breaks Faust.
"""

from __future__ import annotations

from dataclasses import dataclass

from gova.settings import get_settings

DAY_MS = 86_400_000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    retention_ms: int = 7 * DAY_MS
    compacted: bool = False
    partitions: int | None = None  # None: the deployment's `partitions` setting

    def partition_count(self) -> int:
        return self.partitions or get_settings().partitions

    def configs(self) -> dict[str, str]:
        return {
            "retention.ms": str(self.retention_ms),
            "cleanup.policy": "compact" if self.compacted else "delete",
        }


CONTENT_RAW = TopicSpec("content.raw")
CONTENT_TEXT = TopicSpec("content.text")
CONTENT_IMAGE = TopicSpec("content.image")
CONTENT_AUDIO = TopicSpec("content.audio")
CONTENT_SCORED = TopicSpec("content.scored")
CONTENT_REVIEW = TopicSpec("content.review")
CONTENT_CHANNELS = TopicSpec("content.channels", retention_ms=1 * DAY_MS)
AUTHORS_SEVERITY = TopicSpec("authors.severity")
# Acting verdicts, keyed tenant:moderator (co-partitioned with the moderator table).
MODERATION_ACTIONS = TopicSpec("moderation.actions")
# Approved actions for the executor, keyed tenant:moderator.
ACTIONS_EXECUTE = TopicSpec("actions.execute")
MODERATION_RESULTS = TopicSpec("moderation.results")
MODERATOR_EVENTS = TopicSpec("moderator.events", retention_ms=-1, compacted=True)
DEAD_LETTER = TopicSpec("gova.deadletter", retention_ms=30 * DAY_MS)

ALL_TOPICS: tuple[TopicSpec, ...] = (
    CONTENT_RAW,
    CONTENT_TEXT,
    CONTENT_IMAGE,
    CONTENT_AUDIO,
    CONTENT_SCORED,
    CONTENT_REVIEW,
    CONTENT_CHANNELS,
    AUTHORS_SEVERITY,
    MODERATION_ACTIONS,
    ACTIONS_EXECUTE,
    MODERATION_RESULTS,
    MODERATOR_EVENTS,
    DEAD_LETTER,
)
