"""Accounts: users in the database with scrypt-hashed passwords, and their API keys.

A single local user needs no sign-in; ``--auth`` (always on when the server listens beyond the
loopback address) asks for a name and password, checked here. scrypt is in the standard library
and memory-hard, which is what a password hash should be; parameters are stored with each hash so
they can be raised later without locking anyone out.

API keys are 256 random bits, so a plain sha256 is enough to keep them at rest: there is nothing
to guess that a slow hash would protect, and a lookup by hash costs one indexed query per request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from sqlalchemy import select

from app.core.errors import KeepsakeError
from memory.schema import ApiKey, User
from memory.store import Store

N, R, P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"scrypt${N}${R}${P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_password(password: str, stored: str | None) -> bool:
    """Constant-time comparison against a stored hash; False for a user without a password."""
    try:
        kind, n, r, p, salt, digest = (stored or "").split("$")
        if kind != "scrypt":
            return False
        candidate = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r),
                                   p=int(p), dklen=len(base64.b64decode(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(candidate, base64.b64decode(digest))


def add_user(store: Store, name: str, password: str, *, admin: bool = False) -> int:
    """Create a user (or set an existing one's password); returns the id."""
    name = name.strip()
    if not name or len(name) > 100 or any(c in name for c in "/\\\n\r\t"):
        raise KeepsakeError(f"invalid user name {name!r}")
    if len(password) < 8:
        raise KeepsakeError("passwords need at least 8 characters")
    uid = store.user_id(name)
    with store.session() as s:
        user = s.get(User, uid)
        user.password_hash = hash_password(password)
        user.is_admin = user.is_admin or admin
    return uid


def authenticate(store: Store, name: str, password: str) -> int | None:
    """The user's id if the password is right, else None (same answer for an unknown name)."""
    with store.session() as s:
        user = s.scalar(select(User).where(User.name == name))
        stored = user.password_hash if user else None
        uid = user.id if user else None
    ok = check_password(password, stored or hash_password("timing-equaliser"))
    return uid if ok and stored else None


def list_users(store: Store) -> list[tuple[int, str, bool, bool]]:
    """(id, name, is admin, has a password) for every user."""
    with store.session() as s:
        return [(u.id, u.name, u.is_admin, bool(u.password_hash)) for u in s.scalars(select(User).order_by(User.name))]


KEY_PREFIX = "ks-"


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_api_key(store: Store, name: str) -> str:
    """A new API key for the user called ``name``; only its hash is stored, so it is shown once."""
    uid = store.user_id(name, create=False)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with store.session() as s:
        s.add(ApiKey(user_id=uid, key_hash=_key_hash(key), prefix=key[:10]))
    return key


def verify_api_key(store: Store, key: str) -> int | None:
    """The id of the user the key belongs to, or None for an unknown key."""
    if not key.startswith(KEY_PREFIX):
        return None
    with store.session() as s:
        return s.scalar(select(ApiKey.user_id).where(ApiKey.key_hash == _key_hash(key)))
