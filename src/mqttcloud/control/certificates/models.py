"""TLS certificate table: at most one certificate per deployment.

The private key is stored sealed with the platform's data key (`at_rest.SecretBox`: the broker needs it
back); it is never returned by any API.
`status` is `pending` from upload until the deployment's broker reports serving exactly this certificate.
"""

import datetime as dt
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mqttcloud.control.db import Base, UtcDateTime, utcnow


class TlsType(StrEnum):
    ONE_WAY = "one-way"
    TWO_WAY = "two-way"


class TlsStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    FAILED = "failed"


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


class Certificate(Base):
    __tablename__ = "certificates"

    deployment_id: Mapped[str] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True
    )
    tls_type: Mapped[TlsType] = mapped_column(
        Enum(TlsType, native_enum=False, length=16, values_callable=_values)
    )
    cert_pem: Mapped[str] = mapped_column(Text)
    key_pem: Mapped[str] = mapped_column(Text)
    ca_pem: Mapped[str | None] = mapped_column(Text, nullable=True)
    expire_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    common_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[TlsStatus] = mapped_column(
        Enum(TlsStatus, native_enum=False, length=16, values_callable=_values)
    )
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
