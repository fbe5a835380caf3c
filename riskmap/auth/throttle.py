"""Login throttling: how long a user name or a client address must wait after failed logins.

Pure policy over the times of recent failures (the store keeps them): after ``free`` failures
within ``window_s`` every further attempt waits, the delay doubling per failure up to
``max_delay_s``; ``lock_after`` failures within the window lock the account until an admin
unlocks it (``riskmap users enable``) or ``lock_s`` passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["DEFAULT", "Policy", "Verdict", "judge"]


@dataclass(frozen=True)
class Policy:
    """Throttling rules (seconds)."""

    window_s: float = 15 * 60
    free: int = 3
    base_delay_s: float = 2.0
    max_delay_s: float = 300.0
    lock_after: int = 10
    lock_s: float = 60 * 60


DEFAULT = Policy()


@dataclass(frozen=True)
class Verdict:
    """Whether an attempt may be checked now, and if not for how long to wait."""

    allowed: bool
    wait_s: float = 0.0
    locked: bool = False


def judge(failures: Sequence[float], now: float, policy: Policy = DEFAULT) -> Verdict:
    """Decide about an attempt at ``now`` given the times of earlier failures.

    Examples
    --------
    >>> judge([], 100.0)
    Verdict(allowed=True, wait_s=0.0, locked=False)
    >>> judge([90.0, 95.0, 99.0], 100.0)  # the third failure a second ago: wait 1 s more
    Verdict(allowed=False, wait_s=1.0, locked=False)
    >>> judge([float(t) for t in range(10)], 20.0).locked
    True
    """
    recent = sorted(t for t in failures if now - t < policy.window_s)
    if len(recent) >= policy.lock_after:
        until = recent[policy.lock_after - 1] + policy.lock_s
        if now < until:
            return Verdict(False, until - now, locked=True)
    extra = len(recent) - policy.free + 1
    if extra <= 0:
        return Verdict(True)
    delay = min(policy.base_delay_s * 2 ** (extra - 1), policy.max_delay_s)
    ready = recent[-1] + delay
    return Verdict(True) if now >= ready else Verdict(False, round(ready - now, 3))
