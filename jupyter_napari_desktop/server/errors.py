"""What the server answers when it refuses: one exception with its HTTP status.

Handlers raise; ``DesktopAPIHandler.write_error`` answers once, as
``{"error": {"message", "fix"}}`` with the status below.
"""

from __future__ import annotations

from ..launch import DesktopError

# What a refusal says at most: its message and fix echo what a client sent (a path, a name),
# which must not fill the answer and the server's log.
MAX_SAYING = 1000


def shorten(text: str, limit: int = MAX_SAYING) -> str:
    """``text``, cut to ``limit`` characters (the cut said) if longer."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 40]}... ({len(text):,} characters in all)"


class Refused(DesktopError):
    """A request refused with the HTTP status to answer: what the desktop's state refuses
    (409, 504), a path that is not served (400, 403, 404, 422), a limit (413, 507)."""

    def __init__(self, status: int, message: str, fix: str, detail: str = "") -> None:
        super().__init__(shorten(message), shorten(fix), shorten(detail))
        self.status = status


def http_status(err: DesktopError) -> int:
    """A refusal's own status; any other desktop error is a start failure: 503."""
    return err.status if isinstance(err, Refused) else 503
