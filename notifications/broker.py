"""The Redis broker transport, with one fix: a broker outage must not kill the worker.

On a lost broker connection Celery first collects the connection (closing its channels and
dropping the transport's reference to it) and then closes it again. If the first close
stopped half-way (the broker was already gone), the second one tries to put the unacked
messages back through a new Redis client built from connection details that are no longer
there: AttributeError, which Celery calls an unrecoverable error, and the worker exits
instead of reconnecting when Redis returns (seen in tests/faults: Redis stopped under load).

Here that case raises the broker's ConnectionError instead, which Celery ignores while it
closes the connection, so the worker reconnects. The unacked messages stay in Redis (they
are redelivered after the visibility timeout, and are idempotent); their work is done by the
redelivery or the sweeps. Selected by CELERY_BROKER_TRANSPORT for redis:// brokers.
"""

from __future__ import annotations

from typing import Any

import redis
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> Any:
        if self.connection.client is None:
            raise redis.exceptions.ConnectionError("the broker connection is already closed")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel
