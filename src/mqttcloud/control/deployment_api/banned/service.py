"""Banned clients' use cases: the one place each read and write sequence on bans is written.

The v5 and v4 routes and the console call these with a `Target`; a write runs `banned/store.py` (the
rules on fields, defaults and the quota) in a worker thread, commits, then pushes the bans to the running
broker, which kicks the banned clients that are connected.
"""

import datetime as dt

from mqttcloud.control.deployment_api.banned import store
from mqttcloud.control.deployment_api.banned.models import BanRow
from mqttcloud.control.deployment_api.banned.store import NewBan
from mqttcloud.control.deployment_api.target import Target

__all__ = ["NewBan"]


async def create(target: Target, ban: NewBan) -> BanRow:
    """Raises: BadRequest (fields), Conflict (`ALREADY_EXISTS`), Invalid (`QUOTA_EXCEEDED`)."""
    now = dt.datetime.now(dt.UTC)
    return await target.write(lambda s: store.create(s, deployment_id=target.deployment_id, ban=ban, now=now))


async def delete(target: Target, *, kind: str, who: str) -> None:
    """Raises: BadRequest (a bad `as`), NotFound."""
    await target.write(lambda s: store.delete(s, deployment_id=target.deployment_id, kind=kind, who=who))


async def page(target: Target, *, page: int, limit: int) -> tuple[list[BanRow], int]:
    """One page of the bans in force, and how many there are."""
    now = dt.datetime.now(dt.UTC)
    return await target.read(
        lambda s: store.page(s, deployment_id=target.deployment_id, page=page, limit=limit, now=now)
    )
