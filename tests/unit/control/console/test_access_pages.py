"""Deployment sections in process: deployment API keys, users (+ import), ACL, bans, and the live pages
when no broker runs (the fake supervisor has no admin clients)."""

import datetime as dt
import re

import pytest
from tests.unit.control.console.conftest import Console, csrf_of
from tests.unit.control.console.test_deployment_pages import create_deployment

from mqttcloud.control.accounts.models import Role
from mqttcloud.control.console.user_import import ImportFileError, parse_import
from mqttcloud.control.deployment_api.acl import store as acl
from mqttcloud.control.deployment_api.authn import store as authn
from mqttcloud.control.deployment_api.banned import store as banned
from mqttcloud.control.deployment_api.keys import service as deployment_keys


async def test_deployment_key_secret_is_shown_once_and_stored_hashed(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    path = f"/console/deployments/{deployment_id}/keys"
    response = await root_console.submit(path, path, {"note": "for scripts"})
    assert response.status_code == 303
    page = await root_console.get(path)
    app_id = re.search(r'id="new-app-id">([^<]+)<', page.text)
    secret = re.search(r'id="new-app-secret">([^<]+)<', page.text)
    assert app_id is not None
    assert secret is not None
    again = await root_console.get(path)
    assert secret.group(1) not in again.text
    assert "for scripts" in again.text
    with root_console.database.session() as session:
        (key,) = deployment_keys.list_keys(session, deployment_id=deployment_id)
        assert key.app_id == app_id.group(1)
        assert secret.group(1) not in key.secret_hash
    delete = f"{path}/{app_id.group(1)}/delete"
    assert (await root_console.submit(delete, delete, {})).status_code == 303
    assert app_id.group(1) not in (await root_console.get(path)).text


async def test_add_user_then_duplicate_error_next_to_the_field(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    path = f"/console/deployments/{deployment_id}/users"
    data = {"kind": "username", "user_id": "dev-1", "password": "secret-1"}
    assert (await root_console.submit(path, path, data)).status_code == 303
    assert 'data-user="dev-1"' in (await root_console.get(path)).text
    again = await root_console.submit(path, path, data)
    assert again.status_code == 422
    assert 'id="user_id-error"' in again.text
    assert "User already exists" in again.text
    empty = await root_console.submit(path, path, {"kind": "username", "user_id": "dev-2", "password": ""})
    assert 'id="password-error"' in empty.text


async def test_delete_user(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    path = f"/console/deployments/{deployment_id}/users"
    await root_console.submit(path, path, {"kind": "clientid", "user_id": "box-1", "password": "pw"})
    delete = f"{path}/clientid/box-1/delete"
    assert (await root_console.submit(delete, delete, {})).status_code == 303
    with root_console.database.session() as session:
        assert authn.find(session, deployment_id=deployment_id, kind="clientid", user_id="box-1") is None


async def test_import_form_reports_each_row(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    path = f"/console/deployments/{deployment_id}/users"
    page = await root_console.get(path)
    body = b'[{"user_id": "j1", "password": "p1"}, {"user_id": "j1", "password": "p2"}, {"user_id": "j2"}]'
    response = await root_console.client.post(
        f"{path}/import",
        data={"csrf_token": csrf_of(page.text), "kind": "username"},
        files={"file": ("users.json", body, "application/json")},
    )
    assert response.status_code == 200
    assert "Imported 1 of 3 rows." in response.text
    assert response.text.count('class="fail"') == 2
    assert "User already exists" in response.text
    assert "password or password_hash is required" in response.text


async def test_import_with_progress_endpoints(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    path = f"/console/deployments/{deployment_id}/users"
    token = csrf_of((await root_console.get(path)).text)
    parsed = await root_console.client.post(
        f"{path}/import/parse",
        data={"csrf_token": token, "kind": "username"},
        files={"file": ("u.csv", b"user_id,password\nc1,pw1\nc2,pw2\n", "text/csv")},
    )
    assert parsed.status_code == 200
    rows = parsed.json()["rows"]
    assert [r["user_id"] for r in rows] == ["c1", "c2"]
    forged = await root_console.client.post(f"{path}/import/rows", json={"kind": "username", "rows": rows})
    assert forged.status_code == 403
    done = await root_console.client.post(
        f"{path}/import/rows", json={"kind": "username", "rows": rows}, headers={"X-CSRF-Token": token}
    )
    assert [r["ok"] for r in done.json()["results"]] == [True, True]
    bad = await root_console.client.post(
        f"{path}/import/parse",
        data={"csrf_token": token, "kind": "username"},
        files={"file": ("u.csv", b"name,password\nx,y\n", "text/csv")},
    )
    assert bad.status_code == 422
    assert "user_id column" in bad.json()["error"]


def test_parse_import_reads_csv_hashes_and_json() -> None:
    csv_rows = parse_import(b"\xef\xbb\xbfuser_id,password_hash,salt,is_superuser\nu1,abc,s1,true\n", "x.csv")
    assert (csv_rows[0].user_id, csv_rows[0].password_hash, csv_rows[0].salt, csv_rows[0].is_superuser) == (
        "u1",
        "abc",
        "s1",
        True,
    )
    assert csv_rows[0].password is None
    json_rows = parse_import(b'[{"user_id": "u2", "password": "p", "is_superuser": false}]', "x.txt")
    assert (json_rows[0].number, json_rows[0].password) == (1, "p")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "array of objects"),
        (b"{not json", "not valid JSON"),
        (b"a,b\n1,2\n", "user_id column"),
    ],
)
def test_parse_import_refuses_unreadable_files(data: bytes, message: str) -> None:
    with pytest.raises(ImportFileError, match=message):
        parse_import(data, "users.csv")


async def test_acl_rule_add_error_and_delete(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    path = f"/console/deployments/{deployment_id}/acl"
    rule = {"kind": "username", "target": "dev-1", "topic": "t/#", "action": "publish", "permission": "deny"}
    assert (await root_console.submit(path, path, rule)).status_code == 303
    page = await root_console.get(path)
    assert "<code>t/#</code>" in page.text
    missing = await root_console.submit(path, path, {**rule, "target": ""})
    assert missing.status_code == 422
    assert 'id="target-error"' in missing.text
    empty_topic = await root_console.submit(path, path, {**rule, "topic": ""})
    assert 'id="topic-error"' in empty_topic.text
    page = await root_console.get(path)
    match = re.search(rf'href="({path}/(\d+)/delete)"', page.text)
    assert match is not None
    confirm = await root_console.get(match.group(1))
    assert confirm.status_code == 200
    assert "Delete the rule deny publish t/# for dev-1?" in confirm.text
    assert "<code>t/#</code>" in (await root_console.get(path)).text  # asking deletes nothing
    delete = await root_console.submit(match.group(1), match.group(1), {})
    assert delete.status_code == 303
    assert "<code>t/#</code>" not in (await root_console.get(path)).text


async def test_acl_rule_with_another_action_on_the_same_topic_keeps_the_first(root_console: Console) -> None:
    """A deny publish and an allow subscribe on one topic are two rules; the same rule twice is refused."""
    deployment_id = await create_deployment(root_console)
    path = f"/console/deployments/{deployment_id}/acl"
    deny = {
        "kind": "username",
        "target": "dev-1",
        "topic": "t/#",
        "action": "subscribe",
        "permission": "deny",
    }
    assert (await root_console.submit(path, path, deny)).status_code == 303
    allow = {**deny, "action": "publish", "permission": "allow"}
    assert (await root_console.submit(path, path, allow)).status_code == 303
    with root_console.database.session() as session:
        rules = acl.records(session, deployment_id=deployment_id)
    assert [(r.topic, r.action.value, r.permission.value) for r in rules] == [
        ("t/#", "subscribe", "deny"),
        ("t/#", "publish", "allow"),
    ]
    twice = await root_console.submit(path, path, deny)
    assert twice.status_code == 422
    assert 'id="topic-error"' in twice.text
    assert "this rule exists already" in twice.text


@pytest.mark.parametrize("topic", ["a/#/b", "a/b#", "a/+b/c", "eq a/b#"])
async def test_acl_invalid_filter_is_refused_next_to_the_topic(root_console: Console, topic: str) -> None:
    deployment_id = await create_deployment(root_console)
    path = f"/console/deployments/{deployment_id}/acl"
    rule = {"kind": "all", "target": "", "topic": topic, "action": "all", "permission": "deny"}
    refused = await root_console.submit(path, path, rule)
    assert refused.status_code == 422
    assert re.search(r'<p class="error" id="topic-error" role="alert">[^<]*topic filter', refused.text)
    with root_console.database.session() as session:
        assert acl.records(session, deployment_id=deployment_id) == []


async def test_ban_add_error_and_lift(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    path = f"/console/deployments/{deployment_id}/banned"
    ban = {"kind": "clientid", "who": "spammer", "reason": "spam", "minutes": "30"}
    assert (await root_console.submit(path, path, ban)).status_code == 303
    assert "spammer" in (await root_console.get(path)).text
    duplicate = await root_console.submit(path, path, ban)
    assert 'id="who-error"' in duplicate.text
    minutes = await root_console.submit(path, path, {**ban, "who": "x", "minutes": "soon"})
    assert 'id="minutes-error"' in minutes.text
    confirm_path = f"{path}/delete?kind=clientid&who=spammer"
    assert f'href="{path}/delete?kind=clientid&amp;who=spammer"' in (await root_console.get(path)).text
    confirm = await root_console.get(confirm_path)
    assert "Lift the ban on client ID spammer?" in confirm.text
    assert "spammer" in (await root_console.get(path)).text  # asking lifts nothing
    lift = await root_console.submit(confirm_path, f"{path}/delete", {"kind": "clientid", "who": "spammer"})
    assert lift.status_code == 303
    assert "spammer" not in (await root_console.get(path)).text


async def test_ban_forever_has_no_end_and_peerhost_must_be_an_ip(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    path = f"/console/deployments/{deployment_id}/banned"
    ban = {"kind": "username", "who": "vandal", "reason": "", "minutes": "", "forever": "on"}
    assert (await root_console.submit(path, path, ban)).status_code == 303
    with root_console.database.session() as session:
        [row] = banned.records(session, deployment_id=deployment_id, now=dt.datetime.now(dt.UTC))
    assert (row.who, row.until) == ("vandal", None)
    assert re.search(
        r"<code>vandal</code></td><td data-raw></td><td>[^<]+</td><td>forever</td>",
        (await root_console.get(path)).text,
    )
    host = await root_console.submit(path, path, {**ban, "kind": "peerhost", "who": "not-an-ip"})
    assert host.status_code == 422
    assert 'id="who-error"' in host.text


async def test_live_pages_say_the_broker_is_not_reachable(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    base = f"/console/deployments/{deployment_id}"
    clients = await root_console.get(f"{base}/clients")
    assert clients.status_code == 200
    assert "Deployment is not running" in clients.text
    assert (await root_console.get(f"{base}/clients.json")).json()["error"] == "Deployment is not running"
    assert (await root_console.get(f"{base}/metrics.json")).json()["points"] == []  # nothing sampled
    publish = await root_console.submit(
        f"{base}/publish", f"{base}/publish", {"topic": "a/b", "payload": "x", "qos": "0"}
    )
    assert publish.status_code == 503
    assert 'id="publish-error"' in publish.text
    bad_qos = await root_console.submit(f"{base}/publish", f"{base}/publish", {"topic": "a/b", "qos": "3"})
    assert 'id="qos-error"' in bad_qos.text


async def test_auditor_reads_sections_but_cannot_write(console: Console) -> None:
    await console.login("root", "root-password-for-tests")
    deployment_id = await create_deployment(console)
    await console.submit("/console/projects", "/console/logout", {})
    console.add_account("aud", Role.AUDITOR)
    await console.login("aud", "password-aud")
    base = f"/console/deployments/{deployment_id}"
    for name in ("keys", "users", "acl", "banned", "clients", "publish", "metrics"):
        page = await console.get(f"{base}/{name}")
        assert page.status_code == 200, name
        assert 'method="post"' not in page.text.split("</header>")[1], name
    denied = await console.submit(f"{base}/users", f"{base}/users", {"user_id": "x", "password": "y"})
    assert denied.status_code == 403
    key = await console.submit(f"{base}/keys", f"{base}/keys", {"note": ""})
    assert key.status_code == 403


async def test_dedicated_key_can_be_limited_to_some_methods(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    path = f"/console/deployments/{deployment_id}/keys"
    none = await root_console.submit(path, path, {"access": "limited"})
    assert none.status_code == 422
    assert 'id="permissions-error"' in none.text
    limited = await root_console.submit(
        path, path, {"access": "limited", "permissions": ["GET:clients", "POST:publish"]}
    )
    assert limited.status_code == 303
    with root_console.database.session() as session:
        (key,) = deployment_keys.list_keys(session, deployment_id=deployment_id)
        assert key.permissions == ["GET:clients", "POST:publish"]
    assert "GET:clients" in (await root_console.get(path)).text
