"""The backoff now lives in ``sync.backoff`` (one implementation for station and centre)."""

from sync.backoff import Backoff, retry_after_seconds

__all__ = ["Backoff", "retry_after_seconds"]
