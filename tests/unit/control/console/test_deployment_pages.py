"""Deployment pages: create, overview addresses, live status JSON, start/stop, TLS upload, role rules."""

import re

from tests.certs import make_leaf, make_root_ca
from tests.unit.control.console.conftest import Console, csrf_of

from mqttcloud.control.accounts.models import Role
from mqttcloud.control.console.deployment_pages import ca_certificate
from mqttcloud.control.deployments import service as deployments
from mqttcloud.control.supervisor import BrokerStatus


async def create_deployment(console: Console, kind: str = "dedicated", name: str = "dep-1") -> str:
    response = await console.submit(
        "/console/deployments/new",
        "/console/deployments",
        {"name": name, "project": "default", "type": kind, "plan": "starter"},
    )
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/console/deployments/([a-z0-9]{8})", response.headers["location"])
    assert match is not None
    return match.group(1)


async def test_created_dedicated_deployment_shows_addresses_and_runs(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    page = await root_console.get(f"/console/deployments/{deployment_id}")
    assert page.status_code == 200
    assert "dep-1" in page.text
    assert re.search(r'id="addr-mqtt">127\.0\.0\.1:42\d{3}<', page.text)
    assert re.search(r"<code>ws://127\.0\.0\.1:42\d{3}/mqtt</code>", page.text)
    assert "/api/v5" in page.text
    status = await root_console.get(f"/console/deployments/{deployment_id}/status.json")
    assert status.json()["status"] == "running"
    listing = await root_console.get("/console/deployments/status.json")
    assert listing.json()[deployment_id]["status"] == "running"


async def test_stop_and_start_move_the_state(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    base = f"/console/deployments/{deployment_id}"
    assert (await root_console.submit(base, base + "/stop", {})).status_code == 303
    assert (await root_console.get(base + "/status.json")).json()["status"] == "stopped"
    again = await root_console.submit(base, base + "/stop", {})
    assert again.status_code == 422
    assert "only a running deployment can be stopped" in again.text
    assert (await root_console.submit(base, base + "/start", {})).status_code == 303
    assert (await root_console.get(base + "/status.json")).json()["status"] == "running"


async def test_failed_status_message_is_shown(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    await root_console.supervisor.report(deployment_id, BrokerStatus.FAILED, "crashed 5 times")
    page = await root_console.get(f"/console/deployments/{deployment_id}")
    assert "crashed 5 times" in page.text


async def test_bad_name_is_shown_next_to_the_name_field(root_console: Console) -> None:
    response = await root_console.submit(
        "/console/deployments/new",
        "/console/deployments",
        {"name": "x" * 65, "project": "default", "type": "dedicated", "plan": "starter"},
    )
    assert response.status_code == 422
    assert 'id="name-error"' in response.text


async def test_serverless_overview_offers_the_ca(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console, "serverless", "sl")
    page = await root_console.get(f"/console/deployments/{deployment_id}")
    assert f"{deployment_id}.serverless.localhost:42000" in page.text
    ca = await root_console.get(f"/console/deployments/{deployment_id}/ca.crt")
    assert ca.status_code == 200
    assert ca.text.startswith("-----BEGIN CERTIFICATE-----")
    assert ca.text.count("BEGIN CERTIFICATE") == 1


async def test_tls_upload_then_status_then_delete(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    path = f"/console/deployments/{deployment_id}/tls"
    root = make_root_ca("console test CA")
    leaf = make_leaf(root, "broker.example", hosts=("broker.example",))
    response = await root_console.submit(
        path, path, {"tls_type": "one-way", "cert": leaf.cert_pem + root.cert_pem, "key": leaf.key_pem}
    )
    assert response.status_code == 303, response.text
    page = await root_console.get(path)
    assert 'id="tls-status"' in page.text
    assert "broker.example" in page.text
    overview = await root_console.get(f"/console/deployments/{deployment_id}")
    assert 'id="addr-mqtts"' in overview.text
    delete = await root_console.submit(path + "/delete", path + "/delete", {})
    assert delete.status_code == 303
    assert "No certificate" in (await root_console.get(path)).text


async def test_invalid_certificate_error_is_next_to_the_field(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    path = f"/console/deployments/{deployment_id}/tls"
    root = make_root_ca("console test CA")
    leaf = make_leaf(root, "broker.example", hosts=("broker.example",))
    response = await root_console.submit(
        path, path, {"tls_type": "one-way", "cert": "not a pem", "key": leaf.key_pem}
    )
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.text
    assert leaf.key_pem.splitlines()[1] not in response.text  # a key is never echoed back


async def test_project_user_sees_but_cannot_create_or_stop(console: Console) -> None:
    await console.login("root", "root-password-for-tests")
    deployment_id = await create_deployment(console)
    await console.submit("/console/projects", "/console/logout", {})
    console.add_account("pu", Role.PROJECT_USER, ("default",))
    await console.login("pu", "password-pu")
    page = await console.get(f"/console/deployments/{deployment_id}")
    assert page.status_code == 200
    assert 'id="stop-button"' not in page.text
    assert (await console.get("/console/deployments/new")).status_code == 403
    response = await console.submit(
        f"/console/deployments/{deployment_id}/tls", f"/console/deployments/{deployment_id}/stop", {}
    )
    assert response.status_code == 403


async def test_project_user_of_another_project_gets_404(console: Console) -> None:
    await console.login("root", "root-password-for-tests")
    deployment_id = await create_deployment(console)
    await console.submit("/console/projects", "/console/projects", {"name": "other"})
    await console.submit("/console/projects", "/console/logout", {})
    console.add_account("pu2", Role.PROJECT_USER, ())
    await console.login("pu2", "password-pu2")
    assert (await console.get(f"/console/deployments/{deployment_id}")).status_code == 404
    assert deployment_id not in (await console.get("/console/deployments")).text


async def test_auditor_reads_everything_but_changes_nothing(console: Console) -> None:
    await console.login("root", "root-password-for-tests")
    deployment_id = await create_deployment(console)
    await console.submit("/console/projects", "/console/logout", {})
    console.add_account("aud", Role.AUDITOR)
    await console.login("aud", "password-aud")
    page = await console.get(f"/console/deployments/{deployment_id}")
    assert page.status_code == 200
    assert 'id="start-button"' not in page.text
    tls = await console.get(f"/console/deployments/{deployment_id}/tls")
    assert "Upload a certificate" not in tls.text
    accounts = await console.get("/console/accounts")
    assert accounts.status_code == 200
    assert "Add a sub-account" not in accounts.text
    create = await console.submit("/console/accounts", "/console/projects", {"name": "nope"})
    assert create.status_code == 403


async def test_certificate_errors_go_to_the_field_of_their_rule(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    path = f"/console/deployments/{deployment_id}/tls"
    root = make_root_ca("console test CA")
    leaf = make_leaf(root, "a.example", hosts=("a.example",))
    other = make_root_ca("other CA")
    mismatch = await root_console.submit(
        path, path, {"tls_type": "one-way", "cert": leaf.cert_pem + root.cert_pem, "key": other.key_pem}
    )
    assert 'id="key-error"' in mismatch.text
    no_ca = await root_console.submit(
        path, path, {"tls_type": "two-way", "cert": leaf.cert_pem + root.cert_pem, "key": leaf.key_pem}
    )
    assert 'id="cacert-error"' in no_ca.text
    bad_type = await root_console.submit(path, path, {"tls_type": "three-way", "cert": "x", "key": "y"})
    assert 'id="tls_type-error"' in bad_type.text


async def test_tls_upload_from_files(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    path = f"/console/deployments/{deployment_id}/tls"
    root = make_root_ca("console file CA")
    leaf = make_leaf(root, "files.example", hosts=("files.example",))
    page = await root_console.get(path)
    response = await root_console.client.post(
        path,
        data={"csrf_token": csrf_of(page.text), "tls_type": "one-way", "cert": "", "key": ""},
        files={
            "cert_file": ("server.pem", (leaf.cert_pem + root.cert_pem).encode(), "application/x-pem-file"),
            "key_file": ("server.key", leaf.key_pem.encode(), "application/x-pem-file"),
        },
    )
    assert response.status_code == 303, response.text
    assert "files.example" in (await root_console.get(path)).text


def test_ca_certificate_is_the_issuer_of_the_served_certificate() -> None:
    root = make_root_ca("serverless CA")
    other = make_root_ca("unrelated CA")
    leaf = make_leaf(root, "*.serverless.localhost", hosts=("*.serverless.localhost",))
    assert ca_certificate(leaf.cert_pem + root.cert_pem).strip() == root.cert_pem.strip()
    assert ca_certificate(leaf.cert_pem, [other.cert_pem, root.cert_pem]).strip() == root.cert_pem.strip()
    assert ca_certificate(leaf.cert_pem, [other.cert_pem]) == ""
    assert ca_certificate("no pem here") == ""


async def test_failure_reason_reaches_the_overview_poll_and_the_platform_api(root_console: Console) -> None:
    """The broker's own last error (its log) is part of the reason; the console's poll and the API
    deployment object (`statusReason`) carry it; a start clears it."""
    deployment_id = await create_deployment(root_console)
    broker_dir = root_console.settings.brokers_dir / deployment_id
    broker_dir.mkdir(parents=True, exist_ok=True)
    (broker_dir / "broker.log").write_text(
        "--- 2026-12-10T10:00:00Z spawn: mqttcloud broker\n"
        "2026-12-10 10:00:01,000 ERROR mqttcloud.runtime.main: cannot start: an old run's error\n"
        "--- 2026-12-10T10:05:00Z spawn: mqttcloud broker\n"
        "2026-12-10 10:05:01,000 INFO mqttcloud.runtime.server: opening listeners\n"
        "2026-12-10 10:05:01,200 ERROR mqttcloud.runtime.main: cannot start: [Errno 98] address in use\n"
    )
    await root_console.supervisor.report(
        deployment_id, BrokerStatus.FAILED, "3 crashes; last: exited with code 1"
    )
    reason = "3 crashes; last: exited with code 1: cannot start: [Errno 98] address in use"
    status = (await root_console.get(f"/console/deployments/{deployment_id}/status.json")).json()
    assert status["message"] == reason
    page = await root_console.get(f"/console/deployments/{deployment_id}")
    assert reason in page.text
    assert "an old run" not in page.text
    view = deployments.to_schema(root_console.settings, _view(root_console, deployment_id))
    assert view.model_dump(by_alias=True)["statusReason"] == reason

    base = f"/console/deployments/{deployment_id}"
    assert (await root_console.submit(base, base + "/start", {})).status_code == 303
    status = (await root_console.get(base + "/status.json")).json()
    assert (status["status"], status["message"]) == ("running", "")
    view = deployments.to_schema(root_console.settings, _view(root_console, deployment_id))
    assert view.model_dump(by_alias=True)["statusReason"] is None
    page = await root_console.get(base)
    assert re.search(r'<p class="error" id="status-message" role="status" hidden>', page.text)


def _view(console: Console, deployment_id: str) -> deployments.DeploymentView:
    with console.database.session() as session:
        return deployments.get_view(session, deployment_id=deployment_id)
