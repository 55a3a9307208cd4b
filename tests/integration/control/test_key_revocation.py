"""A key deleted by another process (the CLI) stops working at the very next request of a running
`serve` (the key revision, `api_keys/revisions.py`), platform keys and Deployment API keys alike."""

import json
import subprocess
import sys
from collections.abc import Callable

from tests.integration.control.harness import ROOT, ServeProcess

DELETE_DEPLOYMENT_KEY = """
import sys
from pathlib import Path
from mqttcloud.control.config import Settings
from mqttcloud.control.db import Database
from mqttcloud.control.deployment_api.keys import service
settings = Settings.from_env(data_dir=Path(sys.argv[1]))
database = Database.from_url(settings.sqlalchemy_url)
with database.session() as session:
    service.delete_key(session, deployment_id=sys.argv[2], app_id=sys.argv[3])
database.dispose()
"""


def cli(serve: ServeProcess, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "mqttcloud", "apikey", *args, "--data-dir", str(serve.data_dir)],
        capture_output=True, text=True, env=serve.env, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_platform_key_deleted_by_the_cli_is_refused_at_once(
    start_serve: Callable[..., ServeProcess], backend: str
) -> None:
    serve = start_serve(backend, {"MQTTCLOUD_RATE_LIMIT_PROFILE": "off"})
    key, secret = serve.create_key()
    kept = serve.create_key()
    with serve.client() as client:
        for _ in range(3):  # cached after the first
            assert client.get("/projects", auth=(key, secret)).status_code == 200
        cli(serve, "delete", "--key", key)
        refused = client.get("/projects", auth=(key, secret))
        assert refused.status_code == 401, refused.text
        assert client.get("/projects", auth=kept).status_code == 200


def test_deployment_key_deleted_by_another_process_is_refused_at_once(
    start_serve: Callable[..., ServeProcess], backend: str
) -> None:
    serve = start_serve(backend)
    with serve.client() as client:
        created = client.post("/deployments", json={"projectID": "default"}, auth=serve.create_key())
        assert created.status_code == 201, created.text
    deployment_id = created.json()["deploymentID"]
    printed = json.loads(cli(serve, "create", "--deployment", deployment_id))
    auth = (printed["app_id"], printed["app_secret"])
    users = f"{serve.base_url}/api/v5/authentication/password_based:built_in_database/users"
    with serve.client() as client:
        for _ in range(3):
            assert client.get(users, auth=auth).status_code == 200
        subprocess.run(
            [sys.executable, "-c", DELETE_DEPLOYMENT_KEY, str(serve.data_dir), deployment_id, auth[0]],
            env=serve.env, cwd=ROOT, timeout=60, check=True,
        )  # fmt: skip
        refused = client.get(users, auth=auth)
        assert refused.status_code == 401, refused.text
