"""The console's sign-in throttle is keyed on the real TCP peer of a real `serve`: uvicorn's proxy headers
are off, so X-Forwarded-For counts only when MQTTCLOUD_TRUSTED_PROXIES names the peer."""

import re
import ssl
from collections.abc import Callable

import httpx
from tests.integration.control.harness import ServeProcess

ROOT_PASSWORD = "integration-root-password"  # harness.serve_env
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
MAX_FAILURES = 20  # console/security.py LoginThrottle's default


def console(serve: ServeProcess) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(serve.ca_path))
    return httpx.Client(base_url=serve.base_url, verify=context, timeout=30.0)


def sign_in(client: httpx.Client, password: str, forwarded_for: str) -> int:
    form = client.get("/console/login")
    match = _CSRF.search(form.text)
    assert match is not None, form.text
    response = client.post(
        "/console/login",
        data={"csrf_token": match.group(1), "username": "root", "password": password},
        headers={"X-Forwarded-For": forwarded_for},
    )
    return response.status_code


def test_forwarded_for_from_an_untrusted_peer_does_not_dodge_the_throttle(
    start_serve: Callable[..., ServeProcess],
) -> None:
    """uvicorn's default would take each X-Forwarded-For from 127.0.0.1 as the client, one fresh address
    per guess; the throttle must count them all against the peer."""
    serve = start_serve()
    with console(serve) as client:
        for attempt in range(MAX_FAILURES):
            assert sign_in(client, "wrong-password", f"198.51.100.{attempt}") == 401
        assert sign_in(client, ROOT_PASSWORD, "203.0.113.5") == 429


def test_forwarded_for_from_a_trusted_proxy_names_the_client(
    start_serve: Callable[..., ServeProcess],
) -> None:
    serve = start_serve(extra_env={"MQTTCLOUD_TRUSTED_PROXIES": "127.0.0.1"})
    with console(serve) as client:
        for _attempt in range(MAX_FAILURES):
            assert sign_in(client, "wrong-password", "198.51.100.7") == 401
        assert sign_in(client, ROOT_PASSWORD, "198.51.100.7") == 429
        assert sign_in(client, ROOT_PASSWORD, "203.0.113.5") == 303
