"""The topic metrics page without a running broker: topics are registered (counts zero, and the page
says why), a wildcard is refused next to the field with the input kept, deleting asks first and needs a
role that may edit."""

from tests.unit.control.console.conftest import Console
from tests.unit.control.console.test_deployment_pages import create_deployment

from mqttcloud.control.accounts.models import Role


async def test_register_refuse_and_delete_on_a_stopped_deployment(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    path = f"/console/deployments/{deployment_id}/topic-metrics"
    page = await root_console.get(path)
    assert page.status_code == 200
    assert 'id="topic-metrics-empty"' in page.text
    assert "the counts are zero until it runs" in page.text

    refused = await root_console.submit(path, path, {"topic": "a/#"})
    assert refused.status_code == 400
    assert 'id="topic-error"' in refused.text
    assert "Wildcard topic is not supported" in refused.text
    assert 'value="a/#"' in refused.text

    added = await root_console.submit(path, path, {"topic": "a/b"})
    assert added.status_code == 303
    listed = await root_console.get(path)
    assert "Counting the messages of a/b." in listed.text
    assert 'tr data-topic="a/b"' in listed.text
    twice = await root_console.submit(path, path, {"topic": "a/b"})
    assert "Topic already registered" in twice.text

    confirm = await root_console.get(f"{path}/delete?topic=a%2Fb")
    assert "Stop counting the messages of a/b and forget its metrics?" in confirm.text
    deleted = await root_console.submit(f"{path}/delete?topic=a%2Fb", f"{path}/delete", {"topic": "a/b"})
    assert deleted.status_code == 303
    assert 'id="topic-metrics-empty"' in (await root_console.get(path)).text


async def test_an_auditor_sees_the_page_but_cannot_change_it(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    root_console.add_account("audra", Role.AUDITOR)
    root_console.client.cookies.clear()
    assert (await root_console.login("audra", "password-audra")).status_code == 303
    path = f"/console/deployments/{deployment_id}/topic-metrics"
    page = await root_console.get(path)
    assert page.status_code == 200
    assert "Count this topic" not in page.text
    assert (await root_console.get(f"{path}/delete?topic=t")).status_code == 403
