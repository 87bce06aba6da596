"""Who is looking at the desktop, and who may change it.

The owner (``c.NapariDesktop.owner``: the hub user of this single-user server) has
control; anyone else the Jupyter server lets in (JupyterHub's sharing, an admin with
``access:servers``) watches: their websocket's input is dropped by the server
(rfb_input.py) and the API's changes answer 403. The owner hands control to a visitor
and takes it back; open connections follow at once. Without an owner (no JupyterHub)
everyone who logs in is the owner.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .rfb_input import RfbInput

OWNER, CONTROL, VIEWER = "owner", "control", "viewer"


def user_name(user: Any) -> str:
    """The name of a handler's ``current_user`` (jupyter_server's User, or a hub model)."""
    name = getattr(user, "username", None) or getattr(user, "name", None)
    if name is None and isinstance(user, dict):
        name = user.get("name") or user.get("username")
    return str(name or user or "")


@dataclass
class Watcher:
    user: str
    reader: RfbInput
    since: float = field(default_factory=time.time)


MAX_LINK_SECONDS = 7 * 24 * 3600
MAX_LINKS = 20


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


@dataclass
class ViewLink:
    """A view-only link: the picture of the desktop and nothing else of the server."""

    id: str
    digest: bytes  # of the link's token; the token itself is not kept
    expires: float
    created: float = field(default_factory=time.time)
    closers: dict[int, Callable[[], None]] = field(default_factory=dict)  # its open sockets

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created": self.created,
            "expires": self.expires,
            "viewers": len(self.closers),
        }


class Access:
    """The desktop's people: its owner, those handed control, the open connections."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.handed: set[str] = set()
        self._live: dict[int, Watcher] = {}
        self.links: dict[str, ViewLink] = {}

    def role(self, user: str) -> str:
        if not self.owner or user == self.owner:
            return OWNER
        return CONTROL if user in self.handed else VIEWER

    def may_control(self, user: str) -> bool:
        return self.role(user) != VIEWER

    def join(self, key: int, user: str) -> RfbInput:
        """A websocket opened by ``user``: its input reader, with its role's rights."""
        reader = RfbInput(control=self.may_control(user))
        self._live[key] = Watcher(user, reader)
        return reader

    def leave(self, key: int) -> Optional[Watcher]:
        return self._live.pop(key, None)

    def hand(self, users: list[str]) -> None:
        """Control for exactly ``users`` (besides the owner); open connections follow."""
        self.handed = {u for u in users if u and u != self.owner}
        for watcher in self._live.values():
            watcher.reader.control = self.may_control(watcher.user)

    def people(self) -> list[dict[str, Any]]:
        """One entry per user with an open desktop connection, the owner first."""
        seen: dict[str, dict[str, Any]] = {}
        for watcher in self._live.values():
            entry = seen.setdefault(
                watcher.user,
                {
                    "user": watcher.user,
                    "role": self.role(watcher.user),
                    "since": watcher.since,
                    "connections": 0,
                },
            )
            entry["connections"] += 1
            entry["since"] = min(entry["since"], watcher.since)
        order = {OWNER: 0, CONTROL: 1, VIEWER: 2}
        return sorted(seen.values(), key=lambda e: (order[e["role"]], e["since"]))

    # -- view-only links (a server without JupyterHub, or someone without an account) ----
    def make_link(self, seconds: float) -> tuple[ViewLink, str]:
        """A new link valid for ``seconds``: (the link, its token, shown once)."""
        self.sweep_links()
        if len(self.links) >= MAX_LINKS:
            raise ValueError(f"at most {MAX_LINKS} view-only links at a time; revoke one first")
        token = secrets.token_urlsafe(32)
        link = ViewLink(secrets.token_hex(8), _digest(token), time.time() + seconds)
        self.links[link.id] = link
        return link, token

    def check_link(self, token: str) -> Optional[ViewLink]:
        """The live link whose token this is, or None (unknown, revoked or expired)."""
        if not token:
            return None
        digest = _digest(token)
        found = None
        for link in self.links.values():  # every one compared: no early exit to time
            if hmac.compare_digest(link.digest, digest) and link.expires > time.time():
                found = link
        return found

    def revoke_link(self, link_id: str) -> bool:
        """Forget the link and close its viewers' connections now."""
        link = self.links.pop(link_id, None)
        if link is None:
            return False
        for close in list(link.closers.values()):
            close()
        return True

    def sweep_links(self) -> None:
        for link_id in [i for i, link in self.links.items() if link.expires <= time.time()]:
            self.revoke_link(link_id)
