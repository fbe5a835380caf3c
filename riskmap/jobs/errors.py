"""What jobs raise: a cancel reaching the job's code, a refusal, an unknown job."""

from __future__ import annotations

from riskmap.errors import RiskmapError

__all__ = ["Cancelled", "JobNotFound", "JobRefused"]


class Cancelled(BaseException):
    """Raised by ``progress(...)`` inside a job once the job was cancelled.

    A :class:`BaseException` (like :class:`asyncio.CancelledError`), so that a job's
    ``except Exception`` does not swallow it.
    """


class JobRefused(RiskmapError, ValueError):
    """A job will not run (too big for its limits, bad parameters, too many jobs running);
    the message says why and what to do."""


class JobNotFound(RiskmapError, LookupError):
    """No job has this id (or the user may not see it)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "no such job"
