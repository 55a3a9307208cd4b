"""The command line's own audit entries: `mqttcloud apikey create|delete` runs as root, on the host.

The CLI writes its entry at once, in its own transaction (no queue: the process ends right after).
Who: the root account (the CLI acts as root) and, in the summary, the operating-system user who ran it.
Rule: only the arguments are summarised (never a printed secret), through the same redaction as HTTP.
"""

import datetime as dt
import getpass
import json
import logging
from collections.abc import Mapping

from sqlalchemy.exc import SQLAlchemyError

from mqttcloud.control.accounts.models import ROOT_USERNAME
from mqttcloud.control.audit import service
from mqttcloud.control.audit.actor import ActorKind, Interface
from mqttcloud.control.audit.redaction import summarize
from mqttcloud.control.db import Database

logger = logging.getLogger(__name__)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        return "unknown"


def record_command(
    database: Database,
    *,
    command: str,
    arguments: Mapping[str, object],
    target: str,
    status: int,
    error_code: str | None = None,
) -> None:
    """Store one entry for a CLI command (`status`: 200 done, else the service error's HTTP status).

    A database that cannot take the entry is reported on stderr by the caller's logging, not raised:
    the command itself has already happened.
    """
    fields = {**{k: v for k, v in arguments.items() if v is not None}, "os_user": _os_user()}
    entry = service.NewEntry(
        at=dt.datetime.now(dt.UTC),
        interface=Interface.CLI.value,
        actor_kind=ActorKind.ACCOUNT.value,
        actor_id=ROOT_USERNAME,
        authenticated=True,
        source_ip=None,
        method="CLI",
        action=f"mqttcloud {command}",
        target=target,
        summary=summarize("application/json", json.dumps(fields, default=str).encode(), truncated=False),
        status=status,
        error_code=error_code,
    )
    try:
        with database.session() as session:
            service.write_entries(session, [entry])
    except SQLAlchemyError:
        logger.exception("could not record %s in the audit log", entry.action)
