"""`PUT /public_api/v1/deployments/{id}` with `deploymentName`: renames (the id and addresses stay), a
field left out keeps its value, bad names and empty bodies are 422 naming the field."""

from tests.unit.control.conftest import Platform

API = "/public_api/v1"


async def test_rename_keeps_nodes_and_is_shown_everywhere(platform: Platform) -> None:
    key = platform.key()
    created = await platform.client.post(
        f"{API}/deployments", json={"projectID": "default", "deploymentName": "old", "nodes": 2}, auth=key
    )
    deployment_id = created.json()["deploymentID"]
    await platform.client.get(f"{API}/deployments/{deployment_id}", auth=key)  # cached view
    renamed = await platform.client.put(
        f"{API}/deployments/{deployment_id}", json={"deploymentName": " new name "}, auth=key
    )
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["deploymentName"], renamed.json()["nodes"]) == ("new name", 2)
    shown = (await platform.client.get(f"{API}/deployments/{deployment_id}", auth=key)).json()
    assert shown["deploymentName"] == "new name"
    listed = (await platform.client.get(f"{API}/deployments", auth=key)).json()
    assert [d["deploymentName"] for d in listed] == ["new name"]
    resized = await platform.client.put(f"{API}/deployments/{deployment_id}", json={"nodes": 3}, auth=key)
    assert (resized.json()["deploymentName"], resized.json()["nodes"]) == ("new name", 3)


async def test_bad_names_and_empty_bodies_are_422(platform: Platform) -> None:
    key = platform.key()
    created = await platform.client.post(f"{API}/deployments", json={"projectID": "default"}, auth=key)
    path = f"{API}/deployments/{created.json()['deploymentID']}"
    for body, mention in (
        ({"deploymentName": ""}, "deploymentName"),
        ({"deploymentName": "x" * 65}, "deploymentName"),
        ({"deploymentName": "   "}, "deploymentName"),
        ({"deploymentName": 7}, "deploymentName"),
        ({}, "deploymentName, nodes"),
    ):
        response = await platform.client.put(path, json=body, auth=key)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["code"] == "INVALID_PARAMETERS"
        assert mention in response.json()["message"], (body, response.text)
