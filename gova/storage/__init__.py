"""What Gova keeps: interfaces per aggregate (`interface`), their PostgreSQL implementation
(`postgres`), and the migration runner (`migrations`)."""

from gova.storage.interface import Storage
from gova.storage.postgres import UNAVAILABLE, PostgresStorage

__all__ = ["UNAVAILABLE", "PostgresStorage", "Storage"]
