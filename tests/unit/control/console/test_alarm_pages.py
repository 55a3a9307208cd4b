"""The console's alarm pages and banner (stored alarms, as the checker leaves them) and the trace form's
errors (a running trace is in tests/browser/test_operations.py)."""

import datetime as dt

from tests.unit.control.console.conftest import Console
from tests.unit.control.console.test_deployment_pages import create_deployment

from mqttcloud.control.accounts.models import Role
from mqttcloud.control.alarms import store
from mqttcloud.control.alarms.conditions import Condition
from mqttcloud.control.console.alarm_pages import duration
from mqttcloud.control.projects import service as projects

NOW = dt.datetime.now(dt.UTC)


def _raise(console: Console, *conditions: Condition) -> None:
    with console.database.session() as session:
        store.apply(session, raised=conditions, cleared=(), now=NOW - dt.timedelta(minutes=5))


def _clear(console: Console, deployment_id: str | None, name: str) -> None:
    with console.database.session() as session:
        store.apply(session, raised=(), cleared=[(deployment_id, name)], now=NOW)


async def test_an_active_alarm_shows_a_banner_on_every_page_until_it_clears(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console, name="banner-dep")
    assert 'id="alarm-banner"' not in (await root_console.get("/console/deployments")).text
    _raise(
        root_console, Condition(deployment_id, "certificate_expiring", "TLS certificate expires in 9 days")
    )
    for path in ("/console/deployments", "/console/projects", f"/console/deployments/{deployment_id}/users"):
        page = await root_console.get(path)
        assert 'id="alarm-banner"' in page.text, path
        assert "Active alarms: 1" in page.text
        assert "certificate_expiring" in page.text
    listed = (await root_console.get("/console/alarms")).text
    active = listed.split('id="active-alarms"')[1].split("</table>")[0]
    assert f'data-deployment="{deployment_id}"' in active
    assert "TLS certificate expires in 9 days" in active
    assert "banner-dep" in active

    _clear(root_console, deployment_id, "certificate_expiring")
    assert 'id="alarm-banner"' not in (await root_console.get("/console/deployments")).text
    own = (await root_console.get(f"/console/deployments/{deployment_id}/alarms")).text
    assert 'id="no-active-alarms"' in own
    history = own.split('id="cleared-alarms"')[1]
    assert 'data-alarm="certificate_expiring"' in history
    assert "5m 0s" in history  # raised 5 minutes before it cleared


async def test_the_banner_speaks_chinese(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    _raise(root_console, Condition(deployment_id, "quota_connections", "connections at 90 of 100 (90%)"))
    root_console.client.cookies.set("mqttcloud_lang", "zh-CN")
    page = await root_console.get("/console/deployments")
    assert "活动告警：1" in page.text  # noqa: RUF001  (Chinese punctuation)
    assert "查看告警" in page.text


async def test_alarms_of_other_projects_and_of_the_platform_stay_hidden(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    with root_console.database.session() as session:
        other = projects.create_project(session, name="other").id
    root_console.add_account("watcher", Role.PROJECT_USER, (other,))
    _raise(
        root_console,
        Condition(deployment_id, "deployment_failed", "broker failed"),
        Condition(None, "database_unreachable", "the platform database does not answer"),
    )
    assert "Active alarms: 2" in (await root_console.get("/console/alarms")).text
    root_console.client.cookies.clear()
    assert (await root_console.login("watcher", "password-watcher")).status_code == 303
    page = await root_console.get("/console/alarms")
    assert 'id="alarm-banner"' not in page.text
    assert "deployment_failed" not in page.text
    assert "database_unreachable" not in page.text
    hidden = await root_console.get(f"/console/deployments/{deployment_id}/alarms")
    assert hidden.status_code == 404


async def test_a_bad_trace_is_refused_next_to_its_field(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    tab = f"/console/deployments/{deployment_id}/trace"
    cases = [
        ({"name": "1bad", "type": "clientid", "value": "c1", "minutes": "10"}, "name"),
        ({"name": "t1", "type": "topic", "value": "a/#/b", "minutes": "10"}, "value"),
        ({"name": "t1", "type": "ip_address", "value": "300.1.1.1", "minutes": "10"}, "value"),
        ({"name": "t1", "type": "clientid", "value": "c1", "minutes": "0"}, "minutes"),
        ({"name": "t1", "type": "clientid", "value": "c1", "minutes": "10", "start_at": "soon"}, "start_at"),
        ({"name": "t1", "type": "nothing", "value": "c1", "minutes": "10"}, "type"),
    ]
    cases.append(
        ({"name": "t1", "type": "clientid", "value": "c1", "payload_encode": "rot13"}, "payload_encode")
    )
    for data, field in cases:
        page = await root_console.submit(tab, tab, {"minutes": "10", "payload_encode": "text", **data})
        assert page.status_code == 400, (data, page.text)
        assert f'id="{field}-error"' in page.text, (data, field)
    assert 'data-trace="t1"' not in (await root_console.get(tab)).text


def test_durations_read_short() -> None:
    assert [duration(dt.timedelta(seconds=s)) for s in (45, 725, 12_000, 190_000)] == [
        "45s",
        "12m 5s",
        "3h 20m",
        "2d 4h",
    ]


async def test_a_trace_start_is_typed_as_iso_utc_unless_it_names_its_offset(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    tab = f"/console/deployments/{deployment_id}/trace"
    for name, start_at in (
        ("plain", "2031-02-03 04:05"),
        ("t-form", "2031-02-03T04:05"),
        ("shanghai", "2031-02-03 12:05+08:00"),
    ):
        data = {"name": name, "type": "clientid", "value": name, "minutes": "10", "payload_encode": "text"}
        started = await root_console.submit(tab, tab, {**data, "start_at": start_at})
        assert started.status_code in {200, 303}, started.text
    listed = (await root_console.get(tab)).text
    for name in ("plain", "t-form", "shanghai"):
        start = listed.index(f'data-trace="{name}"')
        assert "2031-02-03 04:05:00 UTC" in listed[start : listed.index("</tr>", start)], name
