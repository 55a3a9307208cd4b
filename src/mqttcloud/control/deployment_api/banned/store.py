"""Banned clients (v5 and v4 `/banned`): who, as (clientid | username | peerhost), reason, by, at, until.

Defaults as EMQX (spec §4 item 14): `by` "user", `at` now, `until` now + 5 minutes (a ban may also be
`forever`: no `until`, shown by v5 as "infinity"). Expired bans are
neither listed nor sent to the broker (they are deleted on the next ban written).
"""

import datetime as dt
import ipaddress
from dataclasses import dataclass

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mqttcloud.contracts import BanKind, BanRecord
from mqttcloud.control.deployment_api.banned.models import BanRow
from mqttcloud.control.errors import BadRequest, Conflict, Invalid, NotFound

DEFAULT_DURATION = dt.timedelta(minutes=5)
MAX_BANS = 10_000


@dataclass(frozen=True, slots=True)
class NewBan:
    kind: str
    who: str
    reason: str = ""
    by: str = "user"
    at: dt.datetime | None = None
    until: dt.datetime | None = None  # None: `at` + 5 minutes, unless `forever`
    forever: bool = False  # no end (v5 `"until": "infinity"`, the console's "forever")


def parse_kind(kind: str) -> BanKind:
    """Raises: Invalid (400) for anything but clientid, username, peerhost."""
    try:
        return BanKind(kind)
    except ValueError:
        raise BadRequest(
            f"as must be clientid, username or peerhost, not {kind!r}", code="BAD_REQUEST", field="as"
        ) from None


def _purge(session: Session, deployment_id: str, now: dt.datetime) -> None:
    session.execute(
        sql_delete(BanRow).where(
            BanRow.deployment_id == deployment_id, BanRow.until.is_not(None), BanRow.until <= now
        )
    )


def create(session: Session, *, deployment_id: str, ban: NewBan, now: dt.datetime) -> BanRow:
    """Raises: Invalid (bad `as`/`who`, until before at, too many), Conflict (`ALREADY_EXISTS`)."""
    kind = parse_kind(ban.kind)
    if not ban.who or len(ban.who) > 255:
        raise BadRequest("who must be 1-255 characters", code="BAD_REQUEST", field="who")
    if kind is BanKind.PEERHOST:
        try:
            ipaddress.ip_address(ban.who)
        except ValueError:
            raise BadRequest(
                f"who must be an IP address for a peerhost ban, not {ban.who!r}",
                code="BAD_REQUEST",
                field="who",
            ) from None
    at = ban.at or now
    until = None if ban.forever else (ban.until or (at + DEFAULT_DURATION))
    if until is not None and until <= at:
        raise BadRequest("until must be later than at", code="BAD_REQUEST", field="until")
    _purge(session, deployment_id, now)
    if session.scalars(
        select(BanRow).where(
            BanRow.deployment_id == deployment_id, BanRow.kind == kind.value, BanRow.who == ban.who
        )
    ).first():
        raise Conflict("The banned entry already exists", code="ALREADY_EXISTS")
    total = int(
        session.scalar(select(func.count()).select_from(BanRow).where(BanRow.deployment_id == deployment_id))
        or 0
    )
    if total >= MAX_BANS:
        raise Invalid(f"quota exceeded: at most {MAX_BANS} banned entries", code="QUOTA_EXCEEDED")
    row = BanRow(
        deployment_id=deployment_id,
        kind=kind.value,
        who=ban.who,
        by=ban.by or "user",
        reason=ban.reason,
        at=at,
        until=until,
    )
    session.add(row)
    session.commit()
    return row


def page(
    session: Session, *, deployment_id: str, page: int, limit: int, now: dt.datetime
) -> tuple[list[BanRow], int]:
    """One page of active bans and their count (a read: expired rows are skipped, not deleted here)."""
    active = (BanRow.deployment_id == deployment_id) & (BanRow.until.is_(None) | (BanRow.until > now))
    total = int(session.scalar(select(func.count()).select_from(BanRow).where(active)) or 0)
    rows = session.scalars(
        select(BanRow).where(active).order_by(BanRow.id).offset((page - 1) * limit).limit(limit)
    )
    return list(rows), total


def delete(session: Session, *, deployment_id: str, kind: str, who: str) -> None:
    """Raises: Invalid (bad `as`), NotFound."""
    parsed = parse_kind(kind)
    row = session.scalars(
        select(BanRow).where(
            BanRow.deployment_id == deployment_id, BanRow.kind == parsed.value, BanRow.who == who
        )
    ).first()
    if row is None:
        raise NotFound("Not Found", code="NOT_FOUND")
    session.delete(row)
    session.commit()


def records(session: Session, *, deployment_id: str, now: dt.datetime) -> list[BanRecord]:
    """Active bans as the broker takes them (`TenantSpec.banned`)."""
    rows = session.scalars(select(BanRow).where(BanRow.deployment_id == deployment_id).order_by(BanRow.id))
    return [
        BanRecord(
            kind=BanKind(row.kind),
            who=row.who,
            by=row.by,
            reason=row.reason,
            at=row.at.timestamp(),
            until=row.until.timestamp() if row.until is not None else None,
        )
        for row in rows
        if row.until is None or row.until > now
    ]
