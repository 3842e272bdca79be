"""Per-author tables, keyed `tenant:author` like the streams that write them (co-partitioned).

Time buckets live inside plain table values (not Faust windowed tables, which do not
survive restarts reliably, faust-streaming PR #412).
"""

from gova.tables.base import json_table

rate_limits = json_table("rate_limits", "Per-author token bucket: {tokens, at}")
behaviour = json_table("behaviour", "Per-author behaviour: {score, strikes, at}")
