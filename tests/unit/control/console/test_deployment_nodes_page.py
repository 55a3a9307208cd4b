"""The deployment page shows `nodes` and changes it (the Platform API's `PUT` with `nodes`)."""

from tests.unit.control.console.conftest import Console
from tests.unit.control.console.test_deployment_pages import create_deployment


async def test_console_shows_and_changes_nodes(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    base = f"/console/deployments/{deployment_id}"
    page = await root_console.get(base)
    assert 'id="nodes-count">1<' in page.text
    assert (await root_console.submit(base, base + "/nodes", {"nodes": "3"})).status_code == 303
    assert 'id="nodes-count">3<' in (await root_console.get(base)).text
    for bad in ("0", "17", "many", ""):
        refused = await root_console.submit(base, base + "/nodes", {"nodes": bad})
        assert refused.status_code == 422
        assert "Nodes must be a whole number from 1 to 16." in refused.text
    assert 'id="nodes-count">3<' in (await root_console.get(base)).text


async def test_console_offers_no_nodes_form_for_serverless(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console, "serverless", "sl")
    base = f"/console/deployments/{deployment_id}"
    assert 'id="nodes-form"' not in (await root_console.get(base)).text
    refused = await root_console.submit(base, base + "/nodes", {"nodes": "2"})
    assert refused.status_code == 422
    assert "nodes must be 1" in refused.text
