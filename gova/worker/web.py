"""The worker's own page beside Faust's web monitor: /gova/ready/, what `gova up` waits for."""

from __future__ import annotations

import faust

from gova.worker.app import app
from gova.worker.resources import resources


@app.page("/gova/ready/")
async def ready(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
    """200 once tables are recovered and the text model loaded, with the partitions this
    worker holds; 503 until then."""
    ok = (
        app.tables.recovery.completed.is_set()
        and not app.rebalancing
        and resources.text_model_loaded
    )
    assigned: dict[str, list[int]] = {}
    if ok:
        for tp in app.consumer.assignment():
            assigned.setdefault(tp.topic, []).append(tp.partition)
    body = {"ready": ok, "assigned": {t: sorted(p) for t, p in sorted(assigned.items())}}
    return web.json(body, status=200 if ok else 503)
