"""When to try again, when to stop (SPEC §8 "Delivery, nothing lost"). Pure.

A failed delivery is retried after about 10 s, 30 s, 2 min, 10 min, 1 h and then hourly,
each delay with ±20 % jitter (so a relay that comes back is not hit by every entry at the
same instant), for 24 h after the entry was created; the last attempt is made at that
24 h mark. A webhook whose deliveries have failed for 3 days without a success in between
is disabled. Instants are UNIX seconds, as stored in the outbox.
"""

from __future__ import annotations

import random

BACKOFF: tuple[float, ...] = (10.0, 30.0, 120.0, 600.0, 3600.0)
"""Delay after the 1st, 2nd, … failed attempt; the last one repeats."""
JITTER = 0.2
"""Each delay is multiplied by a uniform factor in [1 - JITTER, 1 + JITTER]."""
GIVE_UP_AFTER = 24 * 3600.0
"""An entry is dropped once it is this old and its last attempt failed."""
DISABLE_AFTER = 3 * 24 * 3600.0
"""A webhook failing for this long (``failing_since``) is disabled."""


def retry_at(attempts: int, now: float, rng: random.Random) -> float:
    """When to try again after ``attempts`` failed attempts (1 for the first), at ``now``."""
    delay = BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]
    return now + delay * rng.uniform(1.0 - JITTER, 1.0 + JITTER)


def next_attempt(attempts: int, created_at: float, now: float, rng: random.Random) -> float | None:
    """The next attempt of an entry created at ``created_at`` that has now failed
    ``attempts`` times, or None to give up: never later than 24 h after its creation."""
    give_up_at = created_at + GIVE_UP_AFTER
    if now >= give_up_at:
        return None
    return min(retry_at(attempts, now, rng), give_up_at)


def should_disable(failing_since: float | None, now: float) -> bool:
    """Whether a webhook that failed again at ``now`` has been failing for 3 days.

    ``failing_since`` is the first failure not followed by a success; None means this
    failure is the first one."""
    return failing_since is not None and now - failing_since >= DISABLE_AFTER
