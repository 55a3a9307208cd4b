"""Platform API in process: every endpoint, and every error path, on each database backend."""

import base64
import re
from pathlib import Path

import pytest
from tests.certs import Issued, default_pki, make_self_signed, private_key, v1_certificate_pem
from tests.unit.control.conftest import Platform, make_settings, open_platform

from mqttcloud.contracts import TlsSpec
from mqttcloud.control.db import Database
from mqttcloud.control.deployments.models import Deployment, DeploymentStatus
from mqttcloud.control.supervisor import BrokerStatus

API = "/public_api/v1"


async def create(p: Platform, auth: tuple[str, str], **body: object) -> dict[str, object]:
    response = await p.client.post(f"{API}/deployments", json={"projectID": "default", **body}, auth=auth)
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result


def assert_error(response: object, status: int, code: str) -> dict[str, str]:
    from httpx import Response

    assert isinstance(response, Response)
    assert response.status_code == status, response.text
    body: dict[str, str] = response.json()
    assert set(body) == {"code", "message"}
    assert body["code"] == code
    assert body["message"]
    return body


# -- authentication --------------------------------------------------------------------------------


async def test_missing_credentials_is_401(platform: Platform) -> None:
    response = await platform.client.get(f"{API}/projects")
    assert_error(response, 401, "UNAUTHORIZED")
    assert response.headers["www-authenticate"].startswith("Basic")


async def test_unknown_key_and_wrong_secret_get_identical_401(platform: Platform) -> None:
    key, secret = platform.key()
    wrong_secret = await platform.client.get(f"{API}/projects", auth=(key, secret + "x"))
    unknown_key = await platform.client.get(f"{API}/projects", auth=("0123456789abcdef", secret))
    assert_error(wrong_secret, 401, "UNAUTHORIZED")
    assert wrong_secret.json() == unknown_key.json()
    assert wrong_secret.status_code == unknown_key.status_code


@pytest.mark.parametrize(
    "header",
    ["Bearer abc", "Basic", "Basic !!!notbase64", "Basic " + base64.b64encode(b"no-colon").decode()],
)
async def test_malformed_authorization_header_is_401(platform: Platform, header: str) -> None:
    assert_error(
        await platform.client.get(f"{API}/projects", headers={"Authorization": header}), 401, "UNAUTHORIZED"
    )


async def test_key_without_functionality_scope_is_403(platform: Platform) -> None:
    tls_only = platform.key(scopes=["tls"])
    assert_error(await platform.client.get(f"{API}/deployments", auth=tls_only), 403, "FORBIDDEN")
    assert_error(await platform.client.get(f"{API}/projects", auth=tls_only), 403, "FORBIDDEN")
    deployments_only = platform.key(scopes=["deployments"])
    deployment = await create(platform, deployments_only)
    response = await platform.client.get(
        f"{API}/deployments/{deployment['deploymentID']}/tls", auth=deployments_only
    )
    assert_error(response, 403, "FORBIDDEN")


async def test_key_outside_project_scope_sees_404_and_filtered_lists(platform: Platform) -> None:
    """Another project's deployment answers exactly as a missing one (no existence leak); creating in a
    project outside the scope is 403 (the key names that project itself)."""
    from mqttcloud.control.projects import service as projects

    with platform.database.session() as session:
        other = projects.create_project(session, name="other").id
    everything = platform.key()
    in_default = await create(platform, everything)
    in_other = await create(platform, everything, projectID=other)
    scoped = platform.key(projects=[other])

    listed = (await platform.client.get(f"{API}/deployments", auth=scoped)).json()
    assert [d["deploymentID"] for d in listed] == [in_other["deploymentID"]]
    assert [p["projectID"] for p in (await platform.client.get(f"{API}/projects", auth=scoped)).json()] == [
        other
    ]
    hidden = in_default["deploymentID"]
    for method, path in (("GET", ""), ("GET", "/tls"), ("POST", "/stop")):
        response = await platform.client.request(method, f"{API}/deployments/{hidden}{path}", auth=scoped)
        missing = await platform.client.request(method, f"{API}/deployments/nosuch{path}", auth=scoped)
        assert_error(response, 404, "DEPLOYMENT_NOT_FOUND")
        assert response.json()["message"] == missing.json()["message"].replace("nosuch", hidden)
    response = await platform.client.post(f"{API}/deployments", json={"projectID": "default"}, auth=scoped)
    assert_error(response, 403, "FORBIDDEN")


# -- projects --------------------------------------------------------------------------------------


async def test_list_projects_returns_bare_array_with_default(platform: Platform) -> None:
    response = await platform.client.get(f"{API}/projects", auth=platform.key())
    assert response.status_code == 200
    assert response.json() == [
        {
            "projectID": "default",
            "projectName": "Default Project",
            "description": "Default project for all deployments",
        }
    ]


# -- deployments -----------------------------------------------------------------------------------


async def test_create_deployment_returns_every_field(platform: Platform) -> None:
    body = await create(
        platform, platform.key(), platform="aws", region="us-east-1", connections=500, tps=200
    )
    deployment_id = str(body["deploymentID"])
    assert re.fullmatch(r"[a-z][0-9a-f]{7}", deployment_id)
    assert body["deploymentName"] == f"deployment-{deployment_id}"
    assert body["deploymentType"] == "dedicated"
    assert body["platform"] == "AWS"
    assert body["region"] == "us-east-1"
    assert (body["connections"], body["tps"]) == (500, 200)
    assert body["projectName"] == "Default Project"
    assert body["version"] == "v5"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", str(body["createAt"]))
    endpoints = body["endpoints"]
    assert isinstance(endpoints, dict)
    assert re.fullmatch(r"127\.0\.0\.1:41\d{3}", endpoints["mqtt"])
    assert re.fullmatch(r"127\.0\.0\.1:41\d{3}", endpoints["ws"])
    assert endpoints["mqtts"] is None
    assert endpoints["wss"] is None


async def test_created_deployment_goes_pending_then_running(platform: Platform) -> None:
    platform.supervisor.auto = False
    key = platform.key()
    body = await create(platform, key, deploymentName="factory")
    assert body["status"] == "pending"
    assert body["deploymentName"] == "factory"
    deployment_id = str(body["deploymentID"])
    spec = platform.supervisor.desired[deployment_id]
    assert [listener.kind.value for listener in spec.listeners] == ["tcp", "ws"]
    await platform.supervisor.report(deployment_id, BrokerStatus.STARTING)
    assert (await platform.client.get(f"{API}/deployments/{deployment_id}", auth=key)).json()[
        "status"
    ] == "starting"
    await platform.supervisor.report(deployment_id, BrokerStatus.RUNNING)
    assert (await platform.client.get(f"{API}/deployments/{deployment_id}", auth=key)).json()[
        "status"
    ] == "running"


async def test_create_serverless_deployment_has_tls_endpoints_on_shared_broker(platform: Platform) -> None:
    key = platform.key()
    body = await create(platform, key, deploymentType="serverless")
    deployment_id = str(body["deploymentID"])
    assert body["deploymentType"] == "serverless"
    assert body["status"] == "running"  # the fake broker applied a spec with the tenant enabled
    endpoints = body["endpoints"]
    assert isinstance(endpoints, dict)
    assert endpoints["mqtt"] is None
    assert endpoints["mqtts"] == f"{deployment_id}.serverless.localhost:41000"
    assert endpoints["wss"] == f"{deployment_id}.serverless.localhost:41001"
    spec = platform.supervisor.desired["serverless"]
    assert [t.tenant_id for t in spec.tenants] == [deployment_id]
    assert spec.tenants[0].sni_hosts == [f"{deployment_id}.serverless.localhost"]


async def test_create_accepts_terraform_body(platform: Platform) -> None:
    body = await create(
        platform,
        platform.key(),
        platform="aliyun",
        region="cn-hangzhou",
        connections=1000,
        tps=1000,
        deploymentName="tf",
        deploymentType="dedicatedFlex",
        deploymentVersion="v5",
        freeTrial=False,
        somethingNew="ignored",
    )
    assert body["deploymentType"] == "dedicatedFlex"
    assert body["platform"] == "Alibaba Cloud"


async def test_create_with_malformed_json_is_400(platform: Platform) -> None:
    response = await platform.client.post(
        f"{API}/deployments",
        content=b'{"projectID": "default",',
        headers={"Content-Type": "application/json"},
        auth=platform.key(),
    )
    assert_error(response, 400, "BAD_REQUEST")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "projectID"),
        ({"projectID": ""}, "projectID"),
        ({"projectID": "default", "connections": 0}, "connections"),
        ({"projectID": "default", "tps": -1}, "tps"),
        ({"projectID": "default", "platform": "mars"}, "platform"),
        ({"projectID": "default", "deploymentType": "tiny"}, "deploymentType"),
        ({"projectID": "default", "deploymentName": "x" * 65}, "deploymentName"),
    ],
)
async def test_create_with_bad_field_is_422_naming_it(
    platform: Platform, body: dict[str, object], field: str
) -> None:
    response = await platform.client.post(f"{API}/deployments", json=body, auth=platform.key())
    assert field in assert_error(response, 422, "INVALID_PARAMETERS")["message"]


async def test_create_in_unknown_project_is_404(platform: Platform) -> None:
    response = await platform.client.post(
        f"{API}/deployments", json={"projectID": "nope"}, auth=platform.key()
    )
    assert_error(response, 404, "PROJECT_NOT_FOUND")


async def test_list_deployments_is_bare_array(platform: Platform) -> None:
    key = platform.key()
    first, second = await create(platform, key), await create(platform, key)
    listed = (await platform.client.get(f"{API}/deployments", auth=key)).json()
    assert [d["deploymentID"] for d in listed] == [first["deploymentID"], second["deploymentID"]]
    assert (
        listed[0]
        == (await platform.client.get(f"{API}/deployments/{first['deploymentID']}", auth=key)).json()
    )


async def test_get_unknown_deployment_is_404(platform: Platform) -> None:
    response = await platform.client.get(f"{API}/deployments/w41b11c0", auth=platform.key())
    assert "w41b11c0" in assert_error(response, 404, "DEPLOYMENT_NOT_FOUND")["message"]


async def test_stop_then_start_moves_through_states(platform: Platform) -> None:
    key = platform.key()
    deployment_id = str((await create(platform, key))["deploymentID"])
    stop = await platform.client.post(f"{API}/deployments/{deployment_id}/stop", auth=key)
    assert stop.status_code == 201
    assert stop.json() == {
        "deploymentID": deployment_id,
        "deploymentName": f"deployment-{deployment_id}",
        "operation": "stopping",
    }
    assert deployment_id not in platform.supervisor.desired
    assert (await platform.client.get(f"{API}/deployments/{deployment_id}", auth=key)).json()[
        "status"
    ] == "stopped"
    start = await platform.client.post(f"{API}/deployments/{deployment_id}/start", auth=key)
    assert start.status_code == 201
    assert start.json()["operation"] == "starting"
    assert deployment_id in platform.supervisor.desired
    assert (await platform.client.get(f"{API}/deployments/{deployment_id}", auth=key)).json()[
        "status"
    ] == "running"


async def test_start_running_and_stop_stopped_are_422_saying_why(platform: Platform) -> None:
    key = platform.key()
    deployment_id = str((await create(platform, key))["deploymentID"])
    response = await platform.client.post(f"{API}/deployments/{deployment_id}/start", auth=key)
    assert "is running" in assert_error(response, 422, "INVALID_DEPLOYMENT_STATE")["message"]
    await platform.client.post(f"{API}/deployments/{deployment_id}/stop", auth=key)
    response = await platform.client.post(f"{API}/deployments/{deployment_id}/stop", auth=key)
    assert "is stopped" in assert_error(response, 422, "INVALID_DEPLOYMENT_STATE")["message"]


async def test_stop_while_starting_is_422(platform: Platform) -> None:
    platform.supervisor.auto = False
    key = platform.key()
    deployment_id = str((await create(platform, key))["deploymentID"])
    response = await platform.client.post(f"{API}/deployments/{deployment_id}/stop", auth=key)
    assert "is pending" in assert_error(response, 422, "INVALID_DEPLOYMENT_STATE")["message"]


@pytest.mark.parametrize("operation", ["start", "stop"])
async def test_start_stop_unknown_deployment_is_404(platform: Platform, operation: str) -> None:
    response = await platform.client.post(f"{API}/deployments/zzzzzzzz/{operation}", auth=platform.key())
    assert_error(response, 404, "DEPLOYMENT_NOT_FOUND")


async def test_failed_deployment_can_be_started_again(platform: Platform) -> None:
    key = platform.key()
    deployment_id = str((await create(platform, key))["deploymentID"])
    await platform.supervisor.report(deployment_id, BrokerStatus.FAILED, "crashed 5 times")
    assert (await platform.client.get(f"{API}/deployments/{deployment_id}", auth=key)).json()[
        "status"
    ] == "failed"
    assert (
        await platform.client.post(f"{API}/deployments/{deployment_id}/start", auth=key)
    ).status_code == 201
    assert platform.supervisor.retried == [deployment_id]
    assert (await platform.client.get(f"{API}/deployments/{deployment_id}", auth=key)).json()[
        "status"
    ] == "running"


async def test_delete_deployment_is_204_and_frees_it(platform: Platform) -> None:
    key = platform.key()
    deployment_id = str((await create(platform, key))["deploymentID"])
    response = await platform.client.delete(f"{API}/deployments/{deployment_id}", auth=key)
    assert response.status_code == 204
    assert response.content == b""
    assert deployment_id not in platform.supervisor.desired
    assert_error(
        await platform.client.get(f"{API}/deployments/{deployment_id}", auth=key), 404, "DEPLOYMENT_NOT_FOUND"
    )
    assert_error(
        await platform.client.delete(f"{API}/deployments/{deployment_id}", auth=key),
        404,
        "DEPLOYMENT_NOT_FOUND",
    )


async def test_ports_are_distinct_and_kept(platform: Platform) -> None:
    key = platform.key()
    first, second = await create(platform, key), await create(platform, key)
    addresses = [*first["endpoints"].values(), *second["endpoints"].values()]  # type: ignore[attr-defined]  # dicts from JSON
    ports = [a for a in addresses if a is not None]
    assert len(set(ports)) == 4
    with platform.database.session() as session:
        row = session.get(Deployment, first["deploymentID"])
        assert row is not None
        assert {row.port_mqtt, row.port_ws, row.port_mqtts, row.port_wss}.isdisjoint(
            {session.get(Deployment, second["deploymentID"]).port_mqtt}  # type: ignore[union-attr]  # exists
        )


# -- TLS -------------------------------------------------------------------------------------------


def tls_body(**override: object) -> dict[str, object]:
    pki = default_pki()
    return {"tlsType": "one-way", "cert": pki.server_chain_pem, "key": pki.server.key_pem, **override}


async def test_tls_lifecycle(platform: Platform) -> None:
    key = platform.key()
    deployment_id = str((await create(platform, key))["deploymentID"])
    url = f"{API}/deployments/{deployment_id}/tls"
    assert_error(await platform.client.get(url, auth=key), 404, "TLS_NOT_FOUND")

    platform.supervisor.auto = False
    response = await platform.client.post(url, json=tls_body(), auth=key)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "pending"
    assert body["tlsType"] == "one-way"
    assert body["expire"] == default_pki().server.cert.not_valid_after_utc.strftime("%Y-%m-%d %H:%M:%S")
    assert body["cn"] == "localhost"
    spec = platform.supervisor.desired[deployment_id]
    assert spec.tls is not None
    assert [listener.kind.value for listener in spec.listeners] == ["tcp", "ws", "tls", "wss"]
    assert (await platform.client.get(url, auth=key)).json()["status"] == "pending"
    # The broker confirms it runs that spec generation: the certificate is served.
    generation = platform.supervisor.generations[deployment_id]
    await platform.supervisor.runtime.on_applied(deployment_id, generation)
    assert (await platform.client.get(url, auth=key)).json()["status"] == "running"
    endpoints = (await platform.client.get(f"{API}/deployments/{deployment_id}", auth=key)).json()[
        "endpoints"
    ]
    assert endpoints["mqtts"] is not None
    assert endpoints["wss"] is not None

    assert_error(await platform.client.post(url, json=tls_body(), auth=key), 409, "TLS_EXISTS")
    platform.supervisor.auto = True
    self_signed = make_self_signed()
    response = await platform.client.put(
        url, json=tls_body(cert=self_signed.cert_pem, key=self_signed.key_pem), auth=key
    )
    assert response.status_code == 200
    assert response.json()["status"] == "pending"
    assert (await platform.client.get(url, auth=key)).json()["status"] == "running"

    response = await platform.client.delete(url, auth=key)
    assert response.status_code == 204
    assert platform.supervisor.desired[deployment_id].tls is None
    assert_error(await platform.client.get(url, auth=key), 404, "TLS_NOT_FOUND")
    assert_error(await platform.client.delete(url, auth=key), 404, "TLS_NOT_FOUND")
    assert_error(await platform.client.put(url, json=tls_body(), auth=key), 404, "TLS_NOT_FOUND")


async def test_tls_two_way_needs_cacert_and_is_stored(platform: Platform) -> None:
    key = platform.key()
    deployment_id = str((await create(platform, key))["deploymentID"])
    url = f"{API}/deployments/{deployment_id}/tls"
    response = await platform.client.post(url, json=tls_body(tlsType="two-way"), auth=key)
    assert "[cacert-required]" in assert_error(response, 422, "INVALID_CERTIFICATE")["message"]
    response = await platform.client.post(
        url, json=tls_body(tlsType="two-way", cacert=default_pki().root.cert_pem), auth=key
    )
    assert response.json()["tlsType"] == "two-way"
    spec = platform.supervisor.desired[deployment_id]
    assert spec.tls is not None
    assert spec.tls.mode.value == "two-way"
    assert spec.tls.ca_pem is not None


def _self_signed_body(issued: Issued) -> dict[str, object]:
    return tls_body(cert=issued.cert_pem, key=issued.key_pem)


def _not_yet_valid() -> dict[str, object]:
    import datetime as dt

    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=10)
    return _self_signed_body(make_self_signed(not_before=start, not_after=start + dt.timedelta(days=90)))


def _v1() -> dict[str, object]:
    issued = make_self_signed(key=private_key("ec256", 120))
    return tls_body(cert=v1_certificate_pem(issued), key=issued.key_pem)


def _expired() -> dict[str, object]:
    import datetime as dt

    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    issued = make_self_signed(not_before=past - dt.timedelta(days=30), not_after=past)
    return tls_body(cert=issued.cert_pem, key=issued.key_pem)


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (lambda: tls_body(cert="not a certificate"), "cert-pem"),
        (lambda: tls_body(key="-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "key-pem"),
        (lambda: tls_body(key=default_pki().server.encrypted_key_pem()), "key-encrypted"),
        (lambda: tls_body(key=default_pki().client.key_pem), "key-mismatch"),
        (_expired, "expired"),
        (_not_yet_valid, "not-yet-valid"),
        (_v1, "x509-v3"),
        (lambda: _self_signed_body(make_self_signed(key=private_key("rsa1024", 0))), "key-algorithm"),
        (lambda: tls_body(tlsType="two-way", cacert="not a certificate"), "cacert-pem"),
        (lambda: tls_body(cacert=default_pki().root.cert_pem), "cacert-not-allowed"),
        (lambda: tls_body(cert=default_pki().server.cert_pem + default_pki().other_root.cert_pem), "chain"),
    ],
)
async def test_tls_rejected_upload_is_422_naming_the_rule(
    platform: Platform, body: object, rule: str
) -> None:
    key = platform.key()
    deployment_id = str((await create(platform, key))["deploymentID"])
    assert callable(body)
    response = await platform.client.post(f"{API}/deployments/{deployment_id}/tls", json=body(), auth=key)
    assert f"[{rule}]" in assert_error(response, 422, "INVALID_CERTIFICATE")["message"]
    assert_error(
        await platform.client.get(f"{API}/deployments/{deployment_id}/tls", auth=key), 404, "TLS_NOT_FOUND"
    )


async def test_tls_bad_tls_type_and_missing_fields_are_422(platform: Platform) -> None:
    key = platform.key()
    deployment_id = str((await create(platform, key))["deploymentID"])
    url = f"{API}/deployments/{deployment_id}/tls"
    assert (
        "tlsType"
        in assert_error(
            await platform.client.post(url, json=tls_body(tlsType="three-way"), auth=key),
            422,
            "INVALID_PARAMETERS",
        )["message"]
    )
    assert (
        "key"
        in assert_error(
            await platform.client.post(url, json={"tlsType": "one-way", "cert": "x"}, auth=key),
            422,
            "INVALID_PARAMETERS",
        )["message"]
    )


async def test_tls_documented_broken_example_is_rejected(platform: Platform) -> None:
    """Spec §5 item 10: the docs' own example body is not valid JSON."""
    key = platform.key()
    deployment_id = str((await create(platform, key))["deploymentID"])
    broken = (
        '{"tlsType": "one-way", "cert": "-----BEGIN CERTIFICATE-----\\nMII...tH6j7afSg==\\n'
        "-----END CERTIFICATE-----},"
        '"key":"-----BEGIN RSA PRIVATE KEY-----\\nMIIEpAIBAAKCAQEA5bdg8Rt5A7...AjQzYRdov4inpzw==\\n'
        '-----END RSA PRIVATE KEY-----"'
    )
    response = await platform.client.post(
        f"{API}/deployments/{deployment_id}/tls",
        content=broken,
        headers={"Content-Type": "application/json"},
        auth=key,
    )
    assert_error(response, 400, "BAD_REQUEST")


async def test_tls_on_serverless_is_422(platform: Platform) -> None:
    key = platform.key()
    deployment_id = str((await create(platform, key, deploymentType="serverless"))["deploymentID"])
    response = await platform.client.post(f"{API}/deployments/{deployment_id}/tls", json=tls_body(), auth=key)
    assert_error(response, 422, "TLS_NOT_SUPPORTED")


async def test_tls_on_unknown_deployment_is_404(platform: Platform) -> None:
    key = platform.key()
    for method in ("GET", "POST", "PUT", "DELETE"):
        response = await platform.client.request(
            method,
            f"{API}/deployments/a0000000/tls",
            json=tls_body() if method in {"POST", "PUT"} else None,
            auth=key,
        )
        assert_error(response, 404, "DEPLOYMENT_NOT_FOUND")


# -- generic errors --------------------------------------------------------------------------------


async def test_unknown_path_is_404_with_error_body(platform: Platform) -> None:
    assert (
        assert_error(await platform.client.get(f"{API}/nothing-here"), 404, "NOT_FOUND")["message"]
        == "Path not found"
    )


async def test_wrong_method_is_405_with_error_body(platform: Platform) -> None:
    assert_error(
        await platform.client.patch(f"{API}/projects", auth=platform.key()), 405, "METHOD_NOT_ALLOWED"
    )


async def test_restore_resets_observed_states(platform: Platform) -> None:
    """After a platform restart nothing runs yet: desired-running deployments report `starting` first."""
    key = platform.key()
    running = str((await create(platform, key))["deploymentID"])
    stopped = str((await create(platform, key))["deploymentID"])
    await platform.client.post(f"{API}/deployments/{stopped}/stop", auth=key)
    platform.supervisor.auto = False
    await platform.supervisor.runtime.restore()
    with platform.database.session() as session:
        assert session.get(Deployment, running).status is DeploymentStatus.STARTING  # type: ignore[union-attr]  # exists
        assert session.get(Deployment, stopped).status is DeploymentStatus.STOPPED  # type: ignore[union-attr]  # exists
    assert set(platform.supervisor.desired) == {running}


async def test_exhausted_port_range_is_409(
    database: Database, data_dir: Path, serverless_tls: TlsSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two ports go to the shared Serverless broker, four to each Dedicated deployment."""
    from mqttcloud.control.deployments import service

    monkeypatch.setattr(service, "_is_bindable", lambda _host, _port: True)  # count, don't probe the OS
    settings = make_settings(data_dir, broker_port_low=41900, broker_port_high=41905)
    async for platform in open_platform(database, settings, serverless_tls):
        key = platform.key()
        await create(platform, key)
        response = await platform.client.post(f"{API}/deployments", json={"projectID": "default"}, auth=key)
        assert "41900-41905" in assert_error(response, 409, "NO_FREE_PORTS")["message"]
        assert len((await platform.client.get(f"{API}/deployments", auth=key)).json()) == 1


async def test_json_body_without_content_type_is_accepted(platform: Platform) -> None:
    """Spec §1.4: some EMQX examples omit Content-Type; a compatible server still reads the JSON body."""
    response = await platform.client.post(
        f"{API}/deployments", content=b'{"projectID": "default"}', auth=platform.key()
    )
    assert response.status_code == 201, response.text
