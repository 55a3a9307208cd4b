"""`serve` killed with SIGKILL restarts on its port and adopts its brokers; data at rest is private and
TLS keys are sealed; a deleted deployment leaves no files. A real `mqttcloud serve`, real brokers, paho."""

import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

from tests.integration.control.harness import ServeProcess, poll
from tests.integration.control.test_deployments_live import (
    Subscriber,
    chain,
    create_running,
    deployment,
    served_certificate,
    trusting,
    wait_status,
)


def broker_pid(serve: ServeProcess, deployment_id: str) -> int:
    ready = (serve.data_dir / "brokers" / deployment_id / "ready.json").read_text()
    return int(ready.split('"pid":')[1].split(",")[0])


def test_killed_serve_restarts_on_its_port_and_adopts_running_brokers(
    start_serve: Callable[..., ServeProcess],
) -> None:
    serve = start_serve()
    client, key, running = create_running(serve)
    deployment_id, address = running["deploymentID"], running["endpoints"]["mqtt"]
    subscriber = Subscriber("crash-sub").connect(address)
    subscriber.round_trip("t/crash", b"before")
    pid = broker_pid(serve, deployment_id)
    client.close()

    serve.port = serve.bound_port
    serve.kill()
    serve.start()  # `Address already in use` when a broker inherited the socket
    assert serve.bound_port == serve.port
    with serve.client() as again:
        wait_status(again, key, deployment_id, "running")
        assert broker_pid(serve, deployment_id) == pid  # adopted, not restarted
        assert again.get("/deployments", auth=key).status_code == 200
    assert not subscriber.disconnected.is_set()
    subscriber.round_trip("t/crash", b"after")
    subscriber.close()

    assert serve.stop() == 0  # and the adopted broker stops with the platform
    poll(lambda: not Path(f"/proc/{pid}").exists(), within=15, what="adopted broker stopped")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def stored_key(serve: ServeProcess, deployment_id: str) -> str:
    with sqlite3.connect(serve.data_dir / "mqttcloud.db") as db:
        row = db.execute(
            "SELECT key_pem FROM certificates WHERE deployment_id = ?", (deployment_id,)
        ).fetchone()
    return str(row[0])


def test_data_is_private_keys_are_sealed_and_deletion_removes_files(
    start_serve: Callable[..., ServeProcess],
) -> None:
    serve = start_serve()
    client, key, running = create_running(serve)
    deployment_id = running["deploymentID"]
    root, cert_chain, key_pem = chain("sealed.localhost", 3)
    url = f"/deployments/{deployment_id}/tls"
    upload = client.post(url, json={"tlsType": "one-way", "cert": cert_chain, "key": key_pem}, auth=key)
    assert upload.status_code == 200, upload.text
    poll(lambda: client.get(url, auth=key).json()["status"] == "running", within=30, what="TLS running")
    mqtts = deployment(client, key, deployment_id)["endpoints"]["mqtts"]
    assert served_certificate(mqtts, trusting(root)) == "sealed.localhost"

    assert "PRIVATE KEY" not in stored_key(serve, deployment_id)
    assert stored_key(serve, deployment_id).startswith("fernet:")
    data = serve.data_dir
    assert mode(data) == 0o700
    assert mode(data / "secret.key") == 0o600
    for path in data.rglob("*"):
        assert mode(path) & 0o077 == 0, f"{path} is {oct(mode(path))}"
    assert (data / "mqttcloud.db-wal").exists()

    # Re-uploading what is installed must not leave the status pending (nothing new will be applied).
    again = client.put(url, json={"tlsType": "one-way", "cert": cert_chain, "key": key_pem}, auth=key)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "running"

    broker_dir = data / "brokers" / deployment_id
    assert broker_dir.is_dir()
    assert client.delete(f"/deployments/{deployment_id}", auth=key).status_code in {200, 204}
    poll(lambda: not broker_dir.exists(), within=30, what="broker folder removed")
    client.close()


def test_deleting_a_stopped_deployment_removes_its_files(start_serve: Callable[..., ServeProcess]) -> None:
    serve = start_serve()
    client, key, running = create_running(serve)
    deployment_id = running["deploymentID"]
    client.post(f"/deployments/{deployment_id}/stop", auth=key)
    wait_status(client, key, deployment_id, "stopped")
    broker_dir = serve.data_dir / "brokers" / deployment_id
    assert broker_dir.is_dir()  # a stopped deployment keeps its sessions and messages
    assert client.delete(f"/deployments/{deployment_id}", auth=key).status_code in {200, 204}
    poll(lambda: not broker_dir.exists(), within=30, what="broker folder removed")
    client.close()


def test_plain_keys_and_open_files_of_an_older_install_are_sealed_and_tightened_at_start(
    start_serve: Callable[..., ServeProcess],
) -> None:
    serve = start_serve()
    client, key, running = create_running(serve)
    deployment_id = running["deploymentID"]
    root, cert_chain, key_pem = chain("upgraded.localhost", 4)
    url = f"/deployments/{deployment_id}/tls"
    client.post(url, json={"tlsType": "one-way", "cert": cert_chain, "key": key_pem}, auth=key)
    poll(lambda: client.get(url, auth=key).json()["status"] == "running", within=30, what="TLS running")
    client.close()
    assert serve.stop() == 0
    with sqlite3.connect(serve.data_dir / "mqttcloud.db") as db:  # as an older version stored it
        db.execute("UPDATE certificates SET key_pem = ?", (key_pem,))
    os.chmod(serve.data_dir, 0o755)
    os.chmod(serve.data_dir / "mqttcloud.db", 0o644)

    serve.start()
    assert mode(serve.data_dir) == 0o700
    assert mode(serve.data_dir / "mqttcloud.db") == 0o600
    assert stored_key(serve, deployment_id).startswith("fernet:")
    with serve.client() as client:
        again = wait_status(client, key, deployment_id, "running")
        assert served_certificate(again["endpoints"]["mqtts"], trusting(root)) == "upgraded.localhost"
