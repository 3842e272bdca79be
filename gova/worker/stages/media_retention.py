"""Media bytes past their retention (GOVA_MEDIA_RETENTION_S) are deleted from the content
store, with the PDQ hashes of images scored as long ago; one worker (the leader) sweeps."""

from __future__ import annotations

import logging
import time

from gova.worker.app import app, settings
from gova.worker.stages.plumbing import with_storage

log = logging.getLogger(__name__)


async def sweep(now: float | None = None) -> int:
    deleted = await with_storage(
        lambda s: s.media.delete_expired(
            time.time() if now is None else now, seen_max_age_s=settings.media_retention_s
        )
    )
    if deleted:
        log.info("media retention: %d expired files deleted", deleted)
    return deleted


@app.timer(interval=settings.media_sweep_interval_s, on_leader=True)
async def sweep_media() -> None:
    await sweep()
