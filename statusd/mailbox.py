"""A mailbox between an observer that must never block and the one task that acts on it.

``put`` returns at once and never fails; the task ``wait``s until something is there and
``take``s all of it. With ``keep=1`` (the default) the mailbox conflates: only the latest
value waits, which is what a task that always wants the newest state needs (the state
writer, the public view). With ``keep=N`` it holds the last N values and counts the older
ones it had to drop (the history writer, which wants every change but must not grow).
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

import trio

T = TypeVar("T")


class Mailbox(Generic[T]):
    """The last ``keep`` values put and not taken yet, oldest first."""

    def __init__(self, keep: int = 1) -> None:
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.keep = keep
        self.dropped = 0
        """Values dropped unread because ``keep`` newer ones came after them."""
        self._values: deque[T] = deque(maxlen=keep)
        self._arrived = trio.Event()

    def __len__(self) -> int:
        return len(self._values)

    def put(self, value: T) -> None:
        """Leave ``value`` for the task (the oldest one goes when the mailbox is full)."""
        if len(self._values) == self.keep:
            self.dropped += 1
        self._values.append(value)
        self._arrived.set()

    def take(self) -> list[T]:
        """Every value waiting, oldest first; the mailbox is empty afterwards."""
        values = list(self._values)
        self._values.clear()
        self._arrived = trio.Event()
        return values

    def take_latest(self) -> T | None:
        """The newest value waiting (None if there is none); the mailbox is empty afterwards."""
        values = self.take()
        return values[-1] if values else None

    async def wait(self) -> None:
        """Return once a value is waiting (at once if one already is)."""
        await self._arrived.wait()
