"""Console sessions kept in the database: one row per signed-in browser.

The browser's cookie holds a random 256-bit token; the row is keyed by the token's SHA-256, so the
database never holds a usable token. Rule: a session is valid only while its row exists and has not
expired: logout deletes the row, a password change deletes every row of the account, and deleting the
account deletes them with it (ON DELETE CASCADE).
"""

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mqttcloud.control.accounts.models import Account, ConsoleSession
from mqttcloud.control.db import utcnow

SESSION_LIFETIME = dt.timedelta(hours=12)
MAX_TOKEN_LENGTH = 128


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A live session and its account (detached from the database session that loaded it)."""

    account: Account
    session_id: str  # the SHA-256 of the token: safe to use as a server-side key (CSRF nonce)


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(session: Session, *, account_id: int, lifetime: dt.timedelta = SESSION_LIFETIME) -> str:
    """Open a session for the account and return its cookie token (the only time it exists in clear).

    Expired sessions of every account are dropped in the same transaction.
    """
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
    session.add(
        ConsoleSession(id=session_id(token), account_id=account_id, created_at=now, expires_at=now + lifetime)
    )
    session.commit()
    return token


def find_session(session: Session, *, token: str | None) -> SignedIn | None:
    """The live session of a cookie token, or None (unknown, ended or expired)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    key = session_id(token)
    account = session.scalar(
        select(Account)
        .join(ConsoleSession, ConsoleSession.account_id == Account.id)
        .where(ConsoleSession.id == key, ConsoleSession.expires_at > utcnow())
    )
    if account is None:
        return None
    session.expunge(account)
    return SignedIn(account, key)


def end_session(session: Session, *, token: str | None) -> None:
    """Logout: the token stops working at once (a no-op for an unknown token)."""
    if token and len(token) <= MAX_TOKEN_LENGTH:
        session.execute(delete(ConsoleSession).where(ConsoleSession.id == session_id(token)))
        session.commit()
