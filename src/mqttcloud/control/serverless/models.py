"""The Serverless lifecycle clock (spec §4 item 20): when each Serverless deployment last had a client
connected, and when the lifecycle policy stopped it (None: not stopped by the policy)."""

import datetime as dt

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from mqttcloud.control.db import Base, UtcDateTime


class ServerlessActivity(Base):
    __tablename__ = "serverless_activity"

    deployment_id: Mapped[str] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True
    )
    last_active_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    stopped_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
