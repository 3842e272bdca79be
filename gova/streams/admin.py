"""Creating the declared topics on the broker, before anything produces to them."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from gova.streams import ALL_TOPICS, TopicSpec


async def ensure_topics(bootstrap: str, specs: tuple[TopicSpec, ...] = ALL_TOPICS) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(s.name, s.partition_count(), 1, topic_configs=s.configs())
                    for s in missing
                ]
            )
        return [s.name for s in missing]
    finally:
        await admin.close()
