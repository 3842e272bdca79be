"""The moderation engine, pure: no Faust, asyncpg, Redis or FastAPI import (a test holds it).

Each module decides one thing from records and state it is handed, and returns the
*effects* the decision asks for (`effects`): emit a record to a topic under a key, put a
value in a changelog table. The worker's stages (`gova.worker.stages`) are thin adapters
that read the state, call the engine and apply the effects (the models: Osprey's engine
apart from its worker, Bluesky indigo's automod, where rules produce effects applied after).
"""
