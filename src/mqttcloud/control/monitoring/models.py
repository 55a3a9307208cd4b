"""Stored monitoring points: per deployment, per tier step, per period.

Rule: a row holds sums and counts, never averages, so each new sample folds into its period's row in
every tier (`store.record`): a gauge is `<name>_sum / samples`, a rate `<name>_sum / rate_samples` (no
rate while `rate_samples` is 0). The sampler is the only writer.
"""

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mqttcloud.control.db import Base


class MonitorPoint(Base):
    __tablename__ = "monitor_points"
    __table_args__ = (Index("ix_monitor_points_step_at", "step", "at"),)

    deployment_id: Mapped[str] = mapped_column(
        String(16), ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[int] = mapped_column(Integer, primary_key=True)  # seconds: the tier
    at: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # Unix seconds: the period's start
    samples: Mapped[int] = mapped_column(Integer)
    rate_samples: Mapped[int] = mapped_column(Integer)
    connections_sum: Mapped[float] = mapped_column(Float)
    sessions_sum: Mapped[float] = mapped_column(Float)
    subscriptions_sum: Mapped[float] = mapped_column(Float)
    retained_sum: Mapped[float] = mapped_column(Float)
    received_sum: Mapped[float] = mapped_column(Float)
    sent_sum: Mapped[float] = mapped_column(Float)
    dropped_sum: Mapped[float] = mapped_column(Float)
    bytes_received_sum: Mapped[float] = mapped_column(Float)
    bytes_sent_sum: Mapped[float] = mapped_column(Float)
