"""How every changelog table here is declared."""

import faust

from gova.pipeline import app, settings

JSON_SCHEMA = faust.Schema(key_serializer="json", value_serializer="json")


def json_table(name: str, help: str) -> faust.Table:
    """A changelog table of JSON values, partitioned like every topic of the deployment."""
    return app.Table(
        name, default=None, partitions=settings.partitions, schema=JSON_SCHEMA, help=help
    )
