"""The shadow service's console pages in process: list, create, view, edit the JSON, delete."""

import html
import json
import re

from tests.unit.control.console.conftest import Console
from tests.unit.control.console.test_deployment_pages import create_deployment

from mqttcloud.control.accounts.models import Role
from mqttcloud.control.deployment_api.shadows import service as shadows


def shown_document(page_html: str) -> dict[str, object]:
    match = re.search(r'<pre id="shadow-json">(.*?)</pre>', page_html, re.S)
    assert match is not None
    document = json.loads(html.unescape(match.group(1)))
    assert isinstance(document, dict)
    return document


async def test_create_view_edit_json_and_delete(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    base = f"/console/deployments/{deployment_id}/shadows"
    listing = await root_console.get(base)
    assert listing.status_code == 200
    assert "No shadows yet." in listing.text

    created = await root_console.submit(
        base, base, {"name": "lamp", "shadow_id": "lamp-0001", "description": "d"}
    )
    assert created.status_code == 303, created.text
    detail = created.headers["location"]
    assert detail == f"{base}/lamp-0001"
    page = await root_console.get(detail)
    assert "shadow/lamp-0001/reply" in page.text
    assert shown_document(page.text)["version"] == 0
    assert 'href="' + base + '/lamp-0001"' in (await root_console.get(base)).text

    put = await root_console.submit(detail, f"{detail}/json", {"method": "PUT", "data": '{"color": "blue"}'})
    assert put.status_code == 303, put.text
    patch = await root_console.submit(detail, f"{detail}/json", {"method": "PATCH", "data": '{"power": 1}'})
    assert patch.status_code == 303
    document = shown_document((await root_console.get(detail)).text)
    assert document["data"] == {"color": "blue", "power": 1}
    assert document["version"] == 2

    # the multi-level rule and bad JSON: the message next to the textarea, the document unchanged
    refused = await root_console.submit(
        detail, f"{detail}/json", {"method": "PATCH", "data": '{"k": {"a": 1}}'}
    )
    assert refused.status_code == 422
    assert 'id="data-error"' in refused.text
    assert "'k'" in html.unescape(refused.text)
    bad = await root_console.submit(detail, f"{detail}/json", {"method": "PUT", "data": "{oops"})
    assert bad.status_code == 422
    assert 'id="data-error"' in bad.text
    assert shown_document(bad.text)["version"] == 2

    renamed = await root_console.submit(detail, detail, {"name": "lamp-2", "description": "kitchen"})
    assert renamed.status_code == 303
    assert "kitchen" in (await root_console.get(detail)).text
    wrong = await root_console.submit(detail, detail, {"name": "x", "description": ""})
    assert wrong.status_code == 422
    assert 'id="name-error"' in wrong.text

    delete = f"{detail}/delete"
    assert (await root_console.submit(delete, delete, {})).status_code == 303
    with root_console.database.session() as session:
        page_rows, total = shadows.page(session, deployment_id=deployment_id, page=1, limit=10)
        assert (page_rows, total) == ([], 0)


async def test_duplicate_id_error_is_next_to_the_field(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    base = f"/console/deployments/{deployment_id}/shadows"
    data = {"name": "lamp", "shadow_id": "lamp-0001", "description": ""}
    assert (await root_console.submit(base, base, data)).status_code == 303
    again = await root_console.submit(base, base, data)
    assert again.status_code == 422
    assert 'id="shadow_id-error"' in again.text


async def test_serverless_has_no_shadow_tab_and_readers_cannot_edit(console: Console) -> None:
    await console.login("root", "root-password-for-tests")
    serverless = await create_deployment(console, kind="serverless", name="sl-1")
    assert (await console.get(f"/console/deployments/{serverless}/shadows")).status_code == 404
    assert "/shadows" not in (await console.get(f"/console/deployments/{serverless}")).text
    dedicated = await create_deployment(console, name="dep-2")
    assert (
        f"/console/deployments/{dedicated}/shadows"
        in (await console.get(f"/console/deployments/{dedicated}")).text
    )
    console.add_account("aud", Role.AUDITOR)
    await console.client.post("/console/logout")
    console.client.cookies.clear()
    assert (await console.login("aud", "password-aud")).status_code == 303
    page = await console.get(f"/console/deployments/{dedicated}/shadows")
    assert page.status_code == 200
    assert "Create a shadow" not in page.text
