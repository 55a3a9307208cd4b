"""Project table. The id is part of the API (`projectID`); "default" is created by the first migration."""

import datetime as dt

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mqttcloud.control.db import Base, UtcDateTime, utcnow

DEFAULT_PROJECT_ID = "default"
DEFAULT_PROJECT_NAME = "Default Project"
DEFAULT_PROJECT_DESCRIPTION = "Default project for all deployments"


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
