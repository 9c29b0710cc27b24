"""A small thread-safe publish/subscribe hub for the station's live events.

The workflow, the sensor worker and the outbox watcher ``publish`` plain dicts from any thread;
each kiosk connection (``/api/events``) and the GPIO panel ``subscribe`` and get its own bounded
queue. ``publish`` never blocks: a subscriber whose queue is full is dropped (its ``next``/``get``
then raise ``SubscriptionClosed``; an EventSource reconnects and starts again from a fresh
snapshot). ``close`` ends every subscription, so that streaming responses finish at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from typing import Any

log = logging.getLogger(__name__)

Event = dict[str, Any]
DEFAULT_QUEUE_SIZE = 256


class SubscriptionClosed(Exception):
    """The subscription ended: the hub closed, the subscriber unsubscribed, or it fell too far behind."""


class Subscription:
    """One subscriber's bounded queue. ``get`` for threads, ``next`` for asyncio tasks."""

    def __init__(self, hub: EventHub, maxsize: int) -> None:
        self._hub = hub
        self._maxsize = maxsize
        self._items: deque[Event] = deque()
        self._condition = threading.Condition()
        self._closed = False
        self.dropped = False  # closed because it fell behind
        self._loop: asyncio.AbstractEventLoop | None = None
        self._flag: asyncio.Event | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    def offer(self, event: Event) -> bool:
        """Queue ``event`` without blocking; False (and the subscription closed) if it is full."""
        with self._condition:
            if self._closed:
                return False
            if len(self._items) >= self._maxsize:
                self._closed = self.dropped = True
            else:
                self._items.append(event)
            self._condition.notify_all()
        self._wake()
        return not self.dropped

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        self._wake()
        self._hub.unsubscribe(self)

    def _wake(self) -> None:
        """Wake an asyncio task waiting in ``next`` (from any thread)."""
        loop, flag = self._loop, self._flag
        if loop is not None and flag is not None:
            with contextlib.suppress(RuntimeError):  # the subscriber's loop has closed
                loop.call_soon_threadsafe(flag.set)

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event; None after ``timeout`` seconds without one; ``SubscriptionClosed`` at the end.

        Events queued before the subscription closed are still handed out, except after a drop.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            while True:
                item = self._take()
                if item is not None:
                    return item
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._condition.wait(remaining)

    async def next(self, timeout: float) -> Event | None:
        """``get`` for an asyncio task: waits without holding a thread."""
        if self._flag is None:
            self._loop, self._flag = asyncio.get_running_loop(), asyncio.Event()
        flag = self._flag
        while True:
            flag.clear()
            with self._condition:
                item = self._take()
            if item is not None:
                return item
            try:
                await asyncio.wait_for(flag.wait(), timeout)
            except TimeoutError:
                return None

    def _take(self) -> Event | None:
        if self.dropped:
            raise SubscriptionClosed("this subscriber fell behind and was dropped; subscribe again")
        if self._items:
            return self._items.popleft()
        if self._closed:
            raise SubscriptionClosed("the subscription has ended")
        return None


class EventHub:
    """Fan-out of published events to every current subscriber."""

    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self.queue_size = queue_size
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription] = []
        self._closed = False

    def subscribe(self, queue_size: int | None = None) -> Subscription:
        subscription = Subscription(self, queue_size or self.queue_size)
        with self._lock:
            if self._closed:
                subscription._closed = True
            else:
                self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)

    def publish(self, event: Event) -> None:
        """Hand ``event`` to every subscriber; never blocks, drops subscribers that fell behind."""
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            if not subscription.offer(event):
                log.warning("an event subscriber fell %d events behind and was dropped", self.queue_size)
                self.unsubscribe(subscription)

    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscriptions)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """End every subscription (streams finish) and refuse new ones: call it when shutting down."""
        with self._lock:
            self._closed = True
            subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            subscription.close()
