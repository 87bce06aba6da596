"""Named users on one Jupyter server, as JupyterHub's sharing gives them: each token is a
person (``Authorization: token <token>``, or ``?token=`` on a websocket URL). For tests of
who may watch and who may change a desktop (server/access.py) without a hub."""

from __future__ import annotations

from typing import Optional

from jupyter_server.auth.identity import IdentityProvider, User
from tornado import web

TOKENS = {"alice-secret": "alice", "bob-secret": "bob", "carol-secret": "carol"}
TOKEN_OF = {name: token for token, name in TOKENS.items()}


def sent_token(handler: web.RequestHandler) -> Optional[str]:
    header = handler.request.headers.get("Authorization", "")
    if header.lower().startswith("token "):
        return header[6:].strip()
    return handler.get_argument("token", None)


COOKIE = "named-user"


class NamedTokens(IdentityProvider):
    """alice, bob and carol, each by their own token; a browser that came with one keeps a
    signed cookie, as Jupyter's own login does (its page then sends the XSRF token)."""

    def get_user(self, handler: web.RequestHandler) -> Optional[User]:
        name = TOKENS.get(sent_token(handler) or "")
        if name:
            handler.set_secure_cookie(COOKIE, name)
        else:
            cookie = handler.get_secure_cookie(COOKIE)
            name = cookie.decode() if cookie and cookie.decode() in TOKEN_OF else None
        return User(username=name) if name else None

    def is_token_authenticated(self, handler: web.RequestHandler) -> bool:
        return sent_token(handler) in TOKENS  # no XSRF cookie for a token client

    @property
    def auth_enabled(self) -> bool:
        return True
