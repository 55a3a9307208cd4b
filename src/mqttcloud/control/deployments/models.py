"""Deployment and port-allocation tables: the desired state the supervisor reconciles.

Rule: `desired_running` is what the user asked for and never changes on its own; `status` is what the
platform observed and is written by the status callback (and by the service when it accepts a request).
"""

import datetime as dt
from enum import StrEnum

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mqttcloud.control.db import Base, UtcDateTime, utcnow


class DeploymentType(StrEnum):
    DEDICATED = "dedicated"
    SERVERLESS = "serverless"
    DEDICATED_FLEX = "dedicatedFlex"

    @property
    def is_serverless(self) -> bool:
        return self is DeploymentType.SERVERLESS


class DeploymentStatus(StrEnum):
    """Spec §4 item 7: pending → starting → running; running → stopping → stopped; failed."""

    PENDING = "pending"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


class Deployment(Base):
    __tablename__ = "deployments"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"), index=True)
    deployment_type: Mapped[DeploymentType] = mapped_column(
        Enum(DeploymentType, native_enum=False, length=16, values_callable=_values)
    )
    version: Mapped[str] = mapped_column(String(8), default="v5")
    platform: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(64))
    connections: Mapped[int] = mapped_column(Integer)
    tps: Mapped[int] = mapped_column(Integer)
    status: Mapped[DeploymentStatus] = mapped_column(
        Enum(DeploymentStatus, native_enum=False, length=16, values_callable=_values)
    )
    status_message: Mapped[str] = mapped_column(Text, default="")
    desired_running: Mapped[bool] = mapped_column(Boolean, default=True)
    allow_anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    # Dedicated: how many broker processes (nodes) run the deployment; Serverless: always 1.
    nodes: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    admin_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Dedicated only: listener ports, allocated once from the configured range and kept for life.
    port_mqtt: Mapped[int | None] = mapped_column(Integer, nullable=True)
    port_ws: Mapped[int | None] = mapped_column(Integer, nullable=True)
    port_mqtts: Mapped[int | None] = mapped_column(Integer, nullable=True)
    port_wss: Mapped[int | None] = mapped_column(Integer, nullable=True)


class PortAllocation(Base):
    """One row per allocated broker port: the primary key makes two allocations of a port impossible."""

    __tablename__ = "port_allocations"

    port: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
