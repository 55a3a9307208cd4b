"""The audit log in process: every write through the Platform API, Deployment API and console is
recorded with its actor and result, denied attempts included, and no secret is ever stored."""

import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import select, text
from tests.unit.control.conftest import ROOT_PASSWORD, Platform, build_app, make_settings
from tests.unit.control.console.conftest import csrf_of

from mqttcloud.contracts import TlsSpec
from mqttcloud.control.accounts import service as accounts
from mqttcloud.control.accounts.models import Role
from mqttcloud.control.api_keys.models import Scope
from mqttcloud.control.apikey_cli import main
from mqttcloud.control.audit import service
from mqttcloud.control.audit.log import AuditLog
from mqttcloud.control.audit.models import AuditEntry
from mqttcloud.control.db import Database
from mqttcloud.control.deployment_api.keys import service as deployment_keys

API = "/public_api/v1"
AUTHN_USERS = "/api/v5/authentication/password_based%3Abuilt_in_database/users"


@dataclass
class Audited:
    platform: Platform
    app: FastAPI

    @property
    def client(self) -> AsyncClient:
        return self.platform.client

    async def entries(self) -> list[AuditEntry]:
        """Write what is queued, then every stored entry, oldest first."""
        log: AuditLog = self.app.state.audit_log
        await log.flush()
        with self.platform.database.read_session() as session:
            return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))

    def stored_text(self) -> str:
        """Every column of every stored row, as one string (to look for secrets in)."""
        with self.platform.database.read_session() as session:
            rows = session.execute(text("SELECT * FROM audit_log")).all()
        return "\n".join(" ".join(str(value) for value in row) for row in rows)


@pytest.fixture
async def audited(database: Database, data_dir: Path, serverless_tls: TlsSpec) -> AsyncIterator[Audited]:
    settings = make_settings(data_dir, use_tls=False)
    app, supervisors = build_app(database, settings, serverless_tls)
    with database.session() as session:
        accounts.ensure_root(session, password=ROOT_PASSWORD)
    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with AsyncClient(transport=transport, base_url="http://platform.test") as client:
            yield Audited(Platform(client, database, settings, supervisors[0]), app)


async def create_deployment(audited: Audited, auth: tuple[str, str]) -> str:
    response = await audited.client.post(f"{API}/deployments", json={"projectID": "default"}, auth=auth)
    assert response.status_code == 201, response.text
    return str(response.json()["deploymentID"])


async def test_platform_api_writes_are_recorded_with_the_key_and_no_secret(audited: Audited) -> None:
    key, secret = audited.platform.key()
    deployment_id = await create_deployment(audited, (key, secret))
    stopped = await audited.client.post(f"{API}/deployments/{deployment_id}/stop", auth=(key, secret))
    assert stopped.status_code == 201, stopped.text
    assert (await audited.client.get(f"{API}/deployments", auth=(key, secret))).status_code == 200

    create, stop = await audited.entries()  # the GET is not a write: not recorded
    assert (create.interface, create.actor_kind, create.actor_id) == ("platform_api", "platform_key", key)
    assert create.authenticated
    assert create.action == "POST /public_api/v1/deployments"
    assert create.target == f"deploymentID={deployment_id} projectID=default"
    assert create.status == 201
    assert create.error_code is None
    assert create.source_ip == "203.0.113.7"
    assert '"projectID":"default"' in create.summary
    assert stop.action == "POST /public_api/v1/deployments/{deployment_id}/stop"
    assert stop.target == f"deployment_id={deployment_id}"
    assert secret not in audited.stored_text()


async def test_denied_attempts_are_recorded_with_the_presented_actor(audited: Audited) -> None:
    key, secret = audited.platform.key()
    wrong = await audited.client.post(
        f"{API}/deployments", json={"projectID": "default"}, auth=(key, "wrong")
    )
    assert wrong.status_code == 401
    tls_only = audited.platform.key(scopes=[Scope.TLS])
    denied = await audited.client.post(f"{API}/deployments", json={"projectID": "default"}, auth=tls_only)
    assert denied.status_code == 403
    anonymous = await audited.client.delete(f"{API}/deployments/abc")
    assert anonymous.status_code == 401

    unverified, forbidden, nobody = await audited.entries()
    assert (unverified.actor_id, unverified.authenticated, unverified.status) == (key, False, 401)
    assert unverified.error_code == "UNAUTHORIZED"
    assert (forbidden.actor_id, forbidden.authenticated, forbidden.status) == (tls_only[0], True, 403)
    assert forbidden.error_code == "FORBIDDEN"
    assert (nobody.actor_kind, nobody.actor_id, nobody.status) == ("anonymous", "", 401)
    stored = audited.stored_text()
    assert secret not in stored
    assert tls_only[1] not in stored
    assert "wrong" not in stored


async def test_deployment_api_writes_are_recorded_with_the_app_id_and_no_password(audited: Audited) -> None:
    deployment_id = await create_deployment(audited, audited.platform.key())
    with audited.platform.database.session() as session:
        created = deployment_keys.create_key(session, deployment_id=deployment_id)
        app_id, app_secret = created.key.app_id, created.secret
    user = {"user_id": "sensor-1", "password": "user-password-never-stored"}
    response = await audited.client.post(AUTHN_USERS, json=user, auth=(app_id, app_secret))
    assert response.status_code == 201, response.text
    gone = await audited.client.delete(f"{AUTHN_USERS}/sensor-1", auth=(app_id, app_secret))
    assert gone.status_code == 204, gone.text
    published = await audited.client.post(
        "/api/v5/publish", json={"topic": "t", "payload": "p"}, auth=(app_id, app_secret)
    )
    assert published.status_code in {200, 202, 503}  # no broker in process; either way not audited

    entries = [e for e in await audited.entries() if e.interface == "deployment_api"]
    assert [(e.method, e.actor_kind, e.actor_id, e.authenticated, e.status) for e in entries] == [
        ("POST", "deployment_key", app_id, True, 201),
        ("DELETE", "deployment_key", app_id, True, 204),
    ]
    assert entries[0].action == "POST /api/v5/authentication/password_based:built_in_database/users"
    assert '"user_id":"sensor-1"' in entries[0].summary
    assert '"password":"[redacted]"' in entries[0].summary
    assert "user_id=sensor-1" in entries[1].target
    stored = audited.stored_text()
    assert "user-password-never-stored" not in stored
    assert app_secret not in stored


async def console_post(client: AsyncClient, form_page: str, action: str, data: dict[str, str]) -> int:
    page = await client.get(form_page)
    assert page.status_code == 200, page.text
    response = await client.post(action, data={"csrf_token": csrf_of(page.text), **data})
    return response.status_code


async def test_console_sign_in_and_writes_are_recorded_with_the_account(audited: Audited) -> None:
    client = audited.client
    failed = await console_post(
        client, "/console/login", "/console/login", {"username": "root", "password": "a-wrong-password"}
    )
    assert failed == 401
    signed_in = await console_post(
        client, "/console/login", "/console/login", {"username": "root", "password": ROOT_PASSWORD}
    )
    assert signed_in == 303
    made = await console_post(
        client,
        "/console/accounts",
        "/console/accounts",
        {"username": "aud1", "password": "auditor-password-1", "role": "auditor"},
    )
    assert made == 303

    entries = [e for e in await audited.entries() if e.interface == "console"]
    assert [(e.action, e.actor_id, e.authenticated, e.status) for e in entries] == [
        ("POST /console/login", "root", False, 401),
        ("POST /console/login", "root", True, 303),
        ("POST /console/accounts", "root", True, 303),
    ]
    assert '"username":"aud1"' in entries[2].summary
    stored = audited.stored_text()
    for secret in ("a-wrong-password", ROOT_PASSWORD, "auditor-password-1"):
        assert secret not in stored
    assert "csrf" not in stored


async def test_audit_logs_api_filters_and_pages(audited: Audited) -> None:
    key = audited.platform.key()
    for _ in range(3):
        await create_deployment(audited, key)
    assert (
        await audited.client.post(f"{API}/deployments", json={"projectID": "nope"}, auth=key)
    ).status_code == 404
    await audited.entries()

    page = await audited.client.get(f"{API}/audit_logs", params={"limit": 2}, auth=key)
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["meta"] == {"page": 1, "limit": 2, "count": 4, "hasnext": True}
    newest = body["data"][0]
    assert newest["from"] == "platform_api"
    assert newest["source"] == key[0]
    assert newest["operation_result"] == "failure"
    assert newest["error_code"] == "PROJECT_NOT_FOUND"
    assert newest["http_request"] == {"projectID": "nope"}

    async def count(**params: str) -> int:
        response = await audited.client.get(f"{API}/audit_logs", params=params, auth=key)
        assert response.status_code == 200, response.text
        return int(response.json()["meta"]["count"])

    assert await count(result="success") == 3
    assert await count(result="404") == 1
    assert await count(actor=key[0]) == 4
    assert await count(actor="someone-else") == 0
    assert await count(action="/deployments") == 4
    assert await count(**{"from": "console"}) == 0
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    assert await count(since=tomorrow) == 0
    assert await count(until=tomorrow) == 4
    bad = await audited.client.get(f"{API}/audit_logs", params={"result": "maybe"}, auth=key)
    assert bad.status_code in {400, 422}
    assert "result" in bad.text


async def test_audit_logs_need_a_key_that_reaches_every_project(audited: Audited) -> None:
    scoped = audited.platform.key(projects=["default"])
    response = await audited.client.get(f"{API}/audit_logs", auth=scoped)
    assert response.status_code == 403
    no_scope = audited.platform.key(scopes=[Scope.TLS])
    assert (await audited.client.get(f"{API}/audit_logs", auth=no_scope)).status_code == 403


async def test_entries_cannot_be_changed_through_the_api(audited: Audited) -> None:
    key = audited.platform.key()
    await create_deployment(audited, key)
    (entry,) = await audited.entries()
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for path in (f"{API}/audit_logs", f"{API}/audit_logs/{entry.id}"):
            response = await audited.client.request(method, path, auth=key)
            assert response.status_code in {404, 405}, (method, path, response.status_code)
    with audited.platform.database.read_session() as session:
        assert session.get(AuditEntry, entry.id) is not None


def cli_entry(at: dt.datetime, action: str) -> service.NewEntry:
    return service.NewEntry(
        at=at,
        interface="cli",
        actor_kind="account",
        actor_id="root",
        authenticated=True,
        source_ip=None,
        method="CLI",
        action=action,
        target="",
        summary="{}",
        status=200,
        error_code=None,
    )


async def test_retention_deletes_only_entries_older_than_the_period(audited: Audited) -> None:
    now = dt.datetime.now(dt.UTC)
    log: AuditLog = audited.app.state.audit_log
    assert log.retention_days == 90
    log.record(cli_entry(now - dt.timedelta(days=91), "apikey delete"))
    log.record(cli_entry(now - dt.timedelta(days=89), "apikey create"))
    assert [e.action for e in await audited.entries()] == ["apikey create"]  # flush applies retention


async def test_an_auditor_reads_the_log_in_the_console_and_a_project_user_cannot(audited: Audited) -> None:
    with audited.platform.database.session() as session:
        root = accounts.ensure_root(session, password=ROOT_PASSWORD).account
        for name, role in (("aud", Role.AUDITOR), ("pu", Role.PROJECT_USER)):
            accounts.create_sub_account(
                session,
                actor=root,
                username=name,
                password="password-" + name,
                role=role,
                project_ids=("default",) if role is Role.PROJECT_USER else (),
            )
    key = audited.platform.key()
    deployment_id = await create_deployment(audited, key)
    await audited.entries()
    client = audited.client
    assert (
        await console_post(
            client, "/console/login", "/console/login", {"username": "aud", "password": "password-aud"}
        )
        == 303
    )
    page = await client.get("/console/audit")
    assert page.status_code == 200, page.text
    assert deployment_id in page.text
    assert key[0] in page.text
    filtered = await client.get("/console/audit", params={"result": "failure"})
    assert filtered.status_code == 200
    assert deployment_id not in filtered.text
    await client.post("/console/logout", data={"csrf_token": csrf_of(page.text)})
    assert (
        await console_post(
            client, "/console/login", "/console/login", {"username": "pu", "password": "password-pu"}
        )
        == 303
    )
    assert (await client.get("/console/audit")).status_code == 403


def test_cli_key_commands_are_recorded_as_root_without_the_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "cli-data"
    assert main(["create", "--data-dir", str(data), "--description", "ci key", "--scope", "tls"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert main(["list", "--data-dir", str(data)]) == 0
    assert main(["delete", "--data-dir", str(data), "--key", printed["key"]]) == 0
    assert main(["delete", "--data-dir", str(data), "--key", "no-such-key"]) == 1

    database = Database.from_url(f"sqlite:///{data / 'mqttcloud.db'}")
    try:
        with database.read_session() as session:
            rows = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
            stored = " ".join(
                " ".join(str(v) for v in row) for row in session.execute(text("SELECT * FROM audit_log"))
            )
    finally:
        database.dispose()
    assert [(r.interface, r.actor_id, r.action, r.target, r.status) for r in rows] == [
        ("cli", "root", "mqttcloud apikey create", f"key={printed['key']}", 200),
        ("cli", "root", "mqttcloud apikey delete", f"key={printed['key']}", 200),
        ("cli", "root", "mqttcloud apikey delete", "key=no-such-key", 404),
    ]
    assert '"description":"ci key"' in rows[0].summary
    assert "os_user" in rows[0].summary
    assert printed["secret"] not in stored
