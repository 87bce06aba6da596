"""Kept for ``scripts/setup.sh`` (``ensure_user_venv``): the hub tools are ``tests.support.hub``."""

from tests.support.hub import ensure_user_venv

__all__ = ["ensure_user_venv"]
