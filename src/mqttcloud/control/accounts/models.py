"""Account and console-session tables. Passwords are Argon2 hashes; the role decides what an account may do.

A console session row is keyed by the SHA-256 of its cookie token (the token itself is never stored); it
dies with its account (ON DELETE CASCADE).
"""

import datetime as dt
from enum import StrEnum

from sqlalchemy import JSON, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from mqttcloud.control.db import Base, UtcDateTime, utcnow


class Role(StrEnum):
    """Spec §1.9: the root account plus the five sub-account roles."""

    ROOT = "root"
    ADMINISTRATOR = "administrator"
    PROJECT_ADMINISTRATOR = "project_administrator"
    PROJECT_USER = "project_user"
    ACCOUNTANT = "accountant"
    AUDITOR = "auditor"

    @property
    def may_manage_platform_keys(self) -> bool:
        """Spec §1.3: only the root account and Administrators create or manage platform API keys."""
        return self in {Role.ROOT, Role.ADMINISTRATOR}

    @property
    def sees_all_projects(self) -> bool:
        return self in {Role.ROOT, Role.ADMINISTRATOR, Role.ACCOUNTANT, Role.AUDITOR}

    @property
    def may_start_stop(self) -> bool:
        """Spec §1.9 matrix: create/start/stop/delete deployments."""
        return self in {Role.ROOT, Role.ADMINISTRATOR, Role.PROJECT_ADMINISTRATOR}

    @property
    def may_edit_deployments(self) -> bool:
        """TLS, REST API keys, authentication: Project Users may, Accountants and Auditors only read."""
        return self in {Role.ROOT, Role.ADMINISTRATOR, Role.PROJECT_ADMINISTRATOR, Role.PROJECT_USER}


ROOT_USERNAME = "root"


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=32, values_callable=_values))
    # Projects a Project Administrator / Project User is assigned to (ignored for roles that see all).
    project_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ConsoleSession(Base):
    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 hex of the cookie token
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
