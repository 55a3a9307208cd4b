"""Sign-in, sign-out, CSRF and language switching of the console."""

import dataclasses
import ipaddress

from tests.unit.control.conftest import ROOT_PASSWORD
from tests.unit.control.console.conftest import Console, csrf_of

from mqttcloud.control.console.pages import ConsoleState
from mqttcloud.control.console.security import SESSION_COOKIE, LoginThrottle, SignInGate


async def test_anonymous_visit_redirects_to_login_with_next(console: Console) -> None:
    response = await console.get("/console/api-keys")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=%2Fconsole%2Fapi-keys"


async def test_wrong_password_is_401_with_the_error_on_the_form(console: Console) -> None:
    response = await console.login("root", "not-the-password")
    assert response.status_code == 401
    assert "Wrong user name or password." in response.text
    assert 'aria-invalid="true"' in response.text
    assert SESSION_COOKIE not in console.client.cookies


async def test_login_sets_http_only_session_and_follows_next(console: Console) -> None:
    page = await console.get("/console/login?next=/console/projects")
    response = await console.client.post(
        "/console/login",
        data={
            "csrf_token": csrf_of(page.text),
            "username": "root",
            "password": ROOT_PASSWORD,
            "next": "/console/projects",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console/projects"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert (await console.get("/console/projects")).status_code == 200


async def test_login_refuses_foreign_next_url(console: Console) -> None:
    page = await console.get("/console/login")
    response = await console.client.post(
        "/console/login",
        data={
            "csrf_token": csrf_of(page.text),
            "username": "root",
            "password": ROOT_PASSWORD,
            "next": "https://evil.example/",
        },
    )
    assert response.headers["location"] == "/console/deployments"


async def test_login_without_csrf_token_is_403(console: Console) -> None:
    await console.get("/console/login")
    response = await console.client.post(
        "/console/login", data={"username": "root", "password": ROOT_PASSWORD}
    )
    assert response.status_code == 403
    assert SESSION_COOKIE not in console.client.cookies


async def test_form_with_token_of_another_session_is_403(root_console: Console) -> None:
    response = await root_console.client.post(
        "/console/projects", data={"csrf_token": "forged", "name": "p1"}
    )
    assert response.status_code == 403
    assert "Reload and retry" in response.text


async def test_logout_ends_the_session(root_console: Console) -> None:
    response = await root_console.submit("/console/projects", "/console/logout", {})
    assert response.status_code == 303
    assert (await root_console.get("/console/projects")).status_code == 303


async def test_tampered_cookie_is_sent_to_login(root_console: Console) -> None:
    cookie = root_console.client.cookies[SESSION_COOKIE]
    root_console.client.cookies.set(
        SESSION_COOKIE, cookie[:-3] + "AAA", domain="console.test", path="/console"
    )
    response = await root_console.get("/console/projects")
    assert response.status_code == 303


async def test_language_switch_renders_chinese(root_console: Console) -> None:
    response = await root_console.get("/console/lang?to=zh-CN&next=/console/projects")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/projects"
    page = await root_console.get("/console/projects")
    assert '<html lang="zh-CN">' in page.text
    assert "项目" in page.text
    english = await root_console.get("/console/lang?to=en&next=/console/projects")
    assert english.status_code == 303
    assert "Projects" in (await root_console.get("/console/projects")).text


async def test_accept_language_chooses_chinese_before_any_choice(console: Console) -> None:
    response = await console.client.get("/console/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert '<html lang="zh-CN">' in response.text


async def test_password_change_keeps_this_session_and_ends_others(console: Console) -> None:
    await console.login("root", ROOT_PASSWORD)
    old_cookie = console.client.cookies[SESSION_COOKIE]
    wrong = await console.submit(
        "/console/account",
        "/console/account",
        {
            "old_password": "nope",
            "new_password": "new-root-password",
            "confirm_password": "new-root-password",
        },
    )
    assert wrong.status_code == 422
    assert 'id="old_password-error"' in wrong.text
    differ = await console.submit(
        "/console/account",
        "/console/account",
        {"old_password": ROOT_PASSWORD, "new_password": "new-root-password", "confirm_password": "other"},
    )
    assert 'id="confirm_password-error"' in differ.text
    done = await console.submit(
        "/console/account",
        "/console/account",
        {
            "old_password": ROOT_PASSWORD,
            "new_password": "new-root-password",
            "confirm_password": "new-root-password",
        },
    )
    assert done.status_code == 200
    assert 'id="password-changed"' in done.text
    assert (await console.get("/console/projects")).status_code == 200
    console.client.cookies.set(SESSION_COOKIE, old_cookie, domain="console.test", path="/console")
    assert (await console.get("/console/projects")).status_code == 303


async def test_unknown_objects_render_html_404(root_console: Console) -> None:
    missing = await root_console.get("/console/deployments/zzzzzzzz")
    assert missing.status_code == 404
    assert "text/html" in missing.headers["content-type"]
    assert "Deployment zzzzzzzz not found" in missing.text
    assert (await root_console.get("/console/api-keys/999/edit")).status_code == 404


async def test_pages_forbid_framing_and_foreign_scripts(root_console: Console) -> None:
    page = await root_console.get("/console/deployments")
    assert page.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


async def test_repeated_failures_are_throttled_even_with_the_right_password(console: Console) -> None:
    for _attempt in range(LoginThrottle().max_failures):
        assert (await console.login("root", "wrong-password")).status_code == 401
    blocked = await console.login("root", ROOT_PASSWORD)
    assert blocked.status_code == 429
    assert "Too many failed sign-ins" in blocked.text
    assert SESSION_COOKIE not in console.client.cookies


async def test_a_logged_out_cookie_is_useless(root_console: Console) -> None:
    """Logout ends the session on the server: a copy of the cookie kept by anyone stops working."""
    cookie = root_console.client.cookies[SESSION_COOKIE]
    assert (await root_console.submit("/console/projects", "/console/logout", {})).status_code == 303
    root_console.client.cookies.set(SESSION_COOKIE, cookie, domain="console.test", path="/console")
    assert (await root_console.get("/console/projects")).status_code == 303


def _state(console: Console) -> ConsoleState:
    state: ConsoleState = console.app.state.console
    return state


async def _login_from(console: Console, address: str, password: str) -> int:
    form = await console.get("/console/login")
    response = await console.client.post(
        "/console/login",
        data={"csrf_token": csrf_of(form.text), "username": "root", "password": password},
        headers={"X-Forwarded-For": address},
    )
    return response.status_code


async def test_failures_from_one_address_do_not_lock_out_another(console: Console) -> None:
    state = _state(console)
    state.settings = dataclasses.replace(
        state.settings, trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),)
    )
    for _attempt in range(state.login_throttle.max_failures):
        assert await _login_from(console, "198.51.100.7", "wrong-password") == 401
    assert await _login_from(console, "198.51.100.7", ROOT_PASSWORD) == 429
    assert await _login_from(console, "203.0.113.5", ROOT_PASSWORD) == 303


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(console: Console) -> None:
    """Without trusted proxies, rotating X-Forwarded-For values does not dodge the throttle."""
    for attempt in range(_state(console).login_throttle.max_failures):
        assert await _login_from(console, f"198.51.100.{attempt}", "wrong-password") == 401
    assert await _login_from(console, "203.0.113.5", ROOT_PASSWORD) == 429


async def test_sign_ins_beyond_the_gate_get_429(console: Console) -> None:
    gate = SignInGate(limit=1, wait=0.05)
    _state(console).sign_in_gate = gate
    async with gate.slot():  # another sign-in holds the only slot
        busy = await console.login("root", ROOT_PASSWORD)
    assert busy.status_code == 429
    assert busy.headers["retry-after"] == "1"
    assert (await console.login("root", ROOT_PASSWORD)).status_code == 303
