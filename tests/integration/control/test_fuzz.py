"""schemathesis over both OpenAPI documents of a real `serve`: no input answers 5xx, and every error has
the documented body `{code, message}` (a string code; the v4 shape under `/api` has an integer code).

Bounded and reproducible: a fixed number of valid and invalid examples per operation, derandomized, no
example database; the whole module stays well under three minutes. The keys are scoped so the fuzzer
cannot remove what it fuzzes: the platform key reaches only the project "fuzz" (whose deployment it may
stop, start or delete: the Platform API runs DELETE last), never the default project whose deployment
the Deployment API is fuzzed against. The Deployment API cannot delete its own deployment or key, so its
key keeps DELETE and the inputs of those routes are fuzzed too (a kicked MQTT client reconnects).
"""

import re
import ssl
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from paho.mqtt.enums import CallbackAPIVersion
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.core.result import Err
from tests.integration.control.harness import ServeProcess, free_port_range, running_deployment, serve_env

EXAMPLES = 25  # per operation and pass (valid, invalid, valid aimed at real ids); about a minute in all
# schemathesis' generics are parametrised by its own internal types.
Operation = APIOperation[Any, Any, Any, Any]
FuzzCase = Case[Any]
AIMED_CLIENT = "fuzz-client"  # connected to the Deployment API's deployment throughout
AIMED_USER = "fuzz-user"  # a built-in user of that deployment
ROOT_PASSWORD = "integration-root-password"  # harness.serve_env
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # the same cases on every run: CI is reproducible
    database=None,
    deadline=None,
    phases=[Phase.generate],  # no shrinking: every failure is recorded as found, and the run stays bounded
    suppress_health_check=list(HealthCheck),
)


@dataclass
class Target:
    """One API under fuzz: its document, where and as whom to send, and real ids to aim path
    parameters at (a second pass of valid examples, after the one with generated ids)."""

    serve: ServeProcess
    openapi_path: str
    base_url: str
    auth: tuple[str, str]
    aimed_ids: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Platform:
    serve: ServeProcess
    fuzz_key: tuple[str, str]  # reaches only the project "fuzz"
    fuzz_deployment: str  # in "fuzz"
    app_key: tuple[str, str]  # a Deployment API key of a deployment in "default"


@dataclass
class Report:
    operations: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


def create_project(serve: ServeProcess, name: str) -> None:
    """As root in the console (the Platform API only lists projects)."""
    context = ssl.create_default_context(cafile=str(serve.ca_path))
    with httpx.Client(base_url=serve.base_url, verify=context, timeout=30.0) as console:
        login = {"username": "root", "password": ROOT_PASSWORD}
        signed_in = console.post("/console/login", data={**login, "csrf_token": csrf(console, "/login")})
        assert signed_in.status_code == 303, signed_in.text
        project = {"name": name, "csrf_token": csrf(console, "/projects")}
        created = console.post("/console/projects", data=project)
        assert created.status_code == 303, created.text


def csrf(console: httpx.Client, page: str) -> str:
    match = _CSRF.search(console.get(f"/console{page}").text)
    assert match is not None, f"no CSRF token on {page}"
    return match.group(1)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """One SQLite platform: a deployment in the default project for the Deployment API, with a built-in
    user and a connected MQTT client to aim at, and the project "fuzz" with its own deployment for the
    Platform API key, which reaches nothing else."""
    env = serve_env(None, free_port_range(), {"MQTTCLOUD_RATE_LIMIT_PROFILE": "off"})
    serve = ServeProcess(tmp_path_factory.mktemp("fuzz") / "data", env).start()
    mqtt_client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=AIMED_CLIENT, protocol=mqtt.MQTTv5)
    try:
        admin = serve.create_key()
        create_project(serve, "fuzz")
        with serve.client() as client:
            projects = client.get("/projects", auth=admin).json()
            fuzz_project = next(p["projectID"] for p in projects if p["projectName"] == "fuzz")
            app_deployment = running_deployment(client, admin, "default")
            fuzz_deployment = running_deployment(client, admin, fuzz_project)
            app = client.get(f"/deployments/{app_deployment}", auth=admin).json()
        app_key = serve.create_deployment_key(app_deployment)
        context = ssl.create_default_context(cafile=str(serve.ca_path))
        with httpx.Client(base_url=serve.base_url, verify=context, auth=app_key) as api:
            user = {"user_id": AIMED_USER, "password": "fuzz-password"}
            added = api.post("/api/v5/authentication/password_based:built_in_database/users", json=user)
            assert added.status_code == 201, added.text
        host, port = app["endpoints"]["mqtt"].rsplit(":", 1)
        mqtt_client.username_pw_set(AIMED_USER, "fuzz-password")
        mqtt_client.connect(host, int(port))
        mqtt_client.loop_start()  # reconnects by itself when the fuzzer kicks it
        mqtt_client.subscribe("fuzz/#", qos=1)
        yield Platform(serve, serve.create_key("--project", fuzz_project), fuzz_deployment, app_key)
    finally:
        mqtt_client.disconnect()
        mqtt_client.loop_stop()
        serve.stop()
        print(f"--- serve log ---\n{serve.stderr()}")


def error_body_problem(case: FuzzCase, response: schemathesis.Response) -> str | None:
    """Why an error response breaks the documented shape, or None when it keeps it."""
    if response.status_code >= 500:
        return f"{response.status_code} server error"
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        return f"{response.status_code} with a body that is not JSON"
    v4 = case.operation.schema.get_base_url().endswith("/api") and not case.path.startswith("/v5/")
    code_type = int if v4 else str
    if not (
        isinstance(body, dict)
        and isinstance(body.get("code"), code_type)
        and isinstance(body.get("message"), str)
    ):
        return f"{response.status_code} body is not {{code: {code_type.__name__}, message}}"
    return None


def fuzz_operation(target: Target, operation: Operation, session: requests.Session, report: Report) -> None:
    aimed = {name: value for name, value in target.aimed_ids.items() if f"{{{name}}}" in operation.path}
    passes: list[tuple[GenerationMode, dict[str, str] | None]] = [
        (GenerationMode.POSITIVE, None),
        (GenerationMode.NEGATIVE, None),
    ]
    if aimed:
        passes.append((GenerationMode.POSITIVE, aimed))
    for mode, path_parameters in passes:

        @FUZZ
        @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
        def send(case: FuzzCase) -> None:
            response = case.call(
                base_url=target.base_url, session=session, verify=str(target.serve.ca_path), timeout=30
            )
            report.statuses[response.status_code] += 1
            problem = error_body_problem(case, response)
            if problem is not None:
                curl = case.as_curl_command(base_url=target.base_url)
                report.failures.append(f"{problem}: {curl}\n    {response.text[:300]}")

        try:
            send()
        except Unsatisfiable:
            # Nothing of this operation can be made invalid (e.g. no parameters and no body): its valid
            # examples were sent; an operation with no valid example at all is a failure.
            if mode is GenerationMode.POSITIVE:
                report.failures.append(f"{operation.label}: no valid example could be generated")


def operations(target: Target) -> list[Operation]:
    with target.serve.client() as client:
        document = client.get(target.serve.base_url + target.openapi_path).json()
    schema = schemathesis.openapi.from_dict(document)
    found: list[Operation] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise AssertionError(f"{target.openapi_path} has an operation schemathesis cannot read") from (
                result.err()
            )
        found.append(result.ok())
    # Deleting the deployment the Platform API aims at comes last, so every other operation reaches it.
    return sorted(found, key=lambda op: (op.method.upper() == "DELETE" and op.path.endswith("}"), op.path))


def fuzz(target: Target) -> Report:
    started = time.monotonic()
    report = Report()
    with requests.Session() as session:
        session.auth = target.auth
        for operation in operations(target):
            fuzz_operation(target, operation, session, report)
            report.operations += 1
    print(
        f"{target.openapi_path}: {report.operations} operations, {report.statuses.total()} requests in "
        f"{time.monotonic() - started:.1f} s; statuses {sorted(report.statuses.items())}"
    )
    return report


def test_platform_api_answers_no_5xx_and_documented_errors(platform: Platform) -> None:
    serve = platform.serve
    aimed = {"deployment_id": platform.fuzz_deployment}
    report = fuzz(Target(serve, "/public_api/v1/openapi.json", serve.base_url, platform.fuzz_key, aimed))
    assert report.operations >= 12
    assert not report.failures, "\n".join(report.failures)


def test_deployment_api_answers_no_5xx_and_documented_errors(platform: Platform) -> None:
    serve = platform.serve
    aimed = {"clientid": AIMED_CLIENT, "user_id": AIMED_USER, "username": AIMED_USER}
    report = fuzz(Target(serve, "/api/v5/openapi.json", serve.base_url + "/api", platform.app_key, aimed))
    assert report.operations >= 72
    assert not report.failures, "\n".join(report.failures)
