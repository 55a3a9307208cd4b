"""Every console page a new operator can reach, in English and 简体中文 at 760 px, against a real platform
with a running Dedicated deployment, a connected paho client and a rule.

The pages are found by following the console's own links from the deployment list (so a page no link leads
to is missing from the crawl, and a dead link fails it). Each page answers 200, fits 760 px without
horizontal scrolling (tables and snippets scroll in their own containers), squeezes no table column until
its ids break, draws no chart text over other text, shows no raw ISO date or role key, asks before a
destructive action, and in 中文 shows no run of three English words outside data (`code`, `pre`,
`[data-raw]`, form values). A screenshot of each page is saved in the test's tmp dir and
`artifacts/screenshots/every-page/`.
"""

import re
import shutil
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import SCREENSHOTS, Platform, login
from tests.browser.mqtt_client import MqttClient, connect_when_authorised

pytestmark = pytest.mark.browser

WIDTH = 760
ENGLISH_RUN = re.compile(r"[A-Za-z]{2,}(?: [A-Za-z]{2,}){2,}")  # three English words in a row
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
RAW_ROLE = re.compile(r"\b(?:project_administrator|project_user)\b|\((?:root|administrator|auditor)\)")
# The submit buttons of forms that destroy or interrupt something: each must be on a confirmation page.
DESTRUCTIVE = re.compile(r"/(?:delete|kick|stop|clear|reset|unsubscribe)$")
# Never followed: they act, download, switch language or serve JSON rather than a page.
NOT_PAGES = re.compile(r"/logout$|/lang$|/download$|\.json$|\.crt$|/static/")
# Every page the crawl must reach: a path pattern (deployment id as {d}) each.
EXPECTED = [
    "/deployments",
    "/deployments/new",
    "/projects",
    "/projects/{p}/edit",
    "/accounts",
    "/accounts/{n}/edit",
    "/account",
    "/api-keys",
    "/api-keys/{n}/edit",
    "/audit",
    "/alarms",
    "/deployments/{d}",
    "/deployments/{d}/rename",
    "/deployments/{d}/tls",
    "/deployments/{d}/keys",
    "/deployments/{d}/users",
    "/deployments/{d}/users/{k}/{u}/edit",
    "/deployments/{d}/acl",
    "/deployments/{d}/banned",
    "/deployments/{d}/shadows",
    "/deployments/{d}/shadows/{s}",
    "/deployments/{d}/clients",
    "/deployments/{d}/client",
    "/deployments/{d}/events",
    "/deployments/{d}/subscriptions",
    "/deployments/{d}/retained",
    "/deployments/{d}/retained/message",
    "/deployments/{d}/topic-metrics",
    "/deployments/{d}/publish",
    "/deployments/{d}/mqtt-client",
    "/deployments/{d}/integration",
    "/deployments/{d}/integration/rules/new",
    "/deployments/{d}/integration/rules/{r}/edit",
    "/deployments/{d}/metrics",
    "/deployments/{d}/usage",
    "/deployments/{d}/trace",
    "/deployments/{d}/trace/{t}/log",
    "/deployments/{d}/alarms",
]

# The sections a deployment's tabs lead to (its overview is the deployment's own path).
TABS = [
    "tls", "keys", "users", "acl", "banned", "shadows", "clients", "subscriptions", "retained",
    "topic-metrics", "publish", "mqtt-client", "integration", "metrics", "usage", "trace", "alarms", "events",
]  # fmt: skip

# Visible text of the page outside data: text nodes, placeholders, labels given as attributes.
VISIBLE_TEXT = """() => {
  const data = 'code, pre, kbd, samp, script, style, textarea, [data-raw], .sr-only';
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest(data)) continue;
    const inSelect = el.closest('select');
    if (!(inSelect || el).checkVisibility({visibilityProperty: true})) continue;
    const text = node.textContent.replace(/\\s+/g, ' ').trim();
    if (text) out.push(text);
  }
  for (const el of document.querySelectorAll('[placeholder], [aria-label], [title]')) {
    if (el.closest(data) || !el.checkVisibility({visibilityProperty: true})) continue;
    for (const name of ['placeholder', 'aria-label', 'title']) {
      const value = el.getAttribute(name);
      if (value) out.push(value);
    }
  }
  return out;
}"""

# Pairs of chart texts (SVG text, legend entries) whose boxes overlap, and charts wider than their card.
CHART_OVERLAPS = """() => Array.from(document.querySelectorAll('svg.chart, .legend')).flatMap((box) => {
  const items = Array.from(box.matches('svg') ? box.querySelectorAll('text') : box.children)
    .map((t) => t.getBoundingClientRect()).filter((r) => r.width > 0 && r.height > 0);
  const out = [];
  for (let i = 0; i < items.length; i++) for (let j = i + 1; j < items.length; j++) {
    const a = items[i], b = items[j];
    const apart = a.right - 1 <= b.left || b.right - 1 <= a.left
      || a.bottom - 1 <= b.top || b.bottom - 1 <= a.top;
    if (!apart) out.push(`${box.id || box.closest('[id]')?.id}: ${i} and ${j}`);
  }
  const card = box.closest('.card');
  const right = card ? card.getBoundingClientRect().right : Infinity;
  if (box.getBoundingClientRect().right > right + 1) out.push('wider than its card');
  return out;
})"""

# The page is wider than the window: the widest elements that stick out, to say where.
OVERFLOW = """() => {
  if (document.documentElement.scrollWidth <= window.innerWidth + 1) return [];
  return Array.from(document.querySelectorAll('body *'))
    .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
    .filter((el) => !Array.from(el.children)
      .some((c) => c.getBoundingClientRect().right > window.innerWidth + 1))
    .slice(0, 5).map((el) => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${el.className}`
      + ` right=${Math.round(el.getBoundingClientRect().right)}`);
}"""

# Table columns squeezed until their text breaks: a short token (an id, a topic, an address) in `code` cut
# over lines, or a cell more than 8 lines tall.
SQUASHED = """() => {
  const out = [];
  for (const code of document.querySelectorAll('td code')) {
    const text = code.textContent.trim();
    if (text.length <= 40 && !/\\s/.test(text) && code.getClientRects().length > 1) out.push(`code ${text}`);
  }
  for (const cell of document.querySelectorAll('td')) {
    const line = parseFloat(getComputedStyle(cell).lineHeight) || 22;
    const content = document.createRange();
    content.selectNodeContents(cell);
    if (!cell.querySelector('pre, textarea, form, ul') && content.getBoundingClientRect().height > 8 * line)
      out.push(`cell ${cell.textContent.trim().slice(0, 40)}`);
  }
  return out;
}"""

# POST forms of the page that destroy something, with the page's own path when they are its confirmation.
DESTRUCTIVE_FORMS = """() => Array.from(document.querySelectorAll('form[method=post]'))
  .map((f) => new URL(f.action, location.href).pathname)"""


@dataclass
class Seeded:
    deployment_id: str
    client: MqttClient


@pytest.fixture(scope="module")
def seeded(platform: Platform, deployment: tuple[str, str]) -> Iterator[Seeded]:
    """The deployment with what each page shows: a user, an ACL rule, a ban, a rule with an HTTP action, a
    shadow, a retained message, a counted topic, a trace, and a paho client connected and subscribed."""
    deployment_id, address = deployment
    app = platform.serve.create_deployment_key(deployment_id)
    verify = ssl.create_default_context(cafile=str(platform.serve.ca_path))
    with httpx.Client(base_url=platform.serve.base_url, verify=verify, auth=app, timeout=10.0) as api:
        v5 = "/api/v5"
        users = f"{v5}/authentication/password_based:built_in_database/users"
        assert api.post(users, json={"user_id": "sensor-1", "password": "sensor-password"}).status_code == 201
        rules = f"{v5}/authorization/sources/built_in_database/rules/users"
        acl = [
            {
                "username": "sensor-1",
                "rules": [{"topic": "sensors/#", "action": "all", "permission": "allow"}],
            }
        ]
        assert api.post(rules, json=acl).status_code == 204
        ban = {"as": "clientid", "who": "stolen-device", "reason": "lost in the field"}
        assert api.post(f"{v5}/banned", json=ban).status_code in {200, 201}
        connector = {"type": "http", "name": "hook", "url": "http://127.0.0.1:9/"}
        assert api.post(f"{v5}/connectors", json=connector).status_code == 201, "connector"
        action = {"type": "http", "name": "hook", "connector": "hook", "parameters": {"path": "/in"}}
        assert api.post(f"{v5}/actions", json=action).status_code == 201, "action"
        rule = {
            "id": "hot_sensors",
            "sql": 'SELECT payload.temp AS t FROM "sensors/#"',
            "actions": ["http:hook"],
        }
        assert api.post(f"{v5}/rules", json=rule).status_code == 201, "rule"
        shadow = api.post("/api/shadows", json={"shadowName": "lamp", "shadowID": "lamp-0001"})
        assert shadow.status_code == 200, shadow.text
        assert api.post(f"{v5}/mqtt/topic_metrics", json={"topic": "sensors/1"}).status_code == 200
        trace = {"name": "sensor-trace", "type": "clientid", "clientid": "sensor-client"}
        assert api.post(f"{v5}/trace", json=trace).status_code == 200
    client = connect_when_authorised("sensor-client", "sensor-1", "sensor-password", address)
    client.subscribe("sensors/#")
    client.client.publish("sensors/1", b'{"temp": 35}', qos=1, retain=True).wait_for_publish(10)
    client.wait_message("sensors/1")
    try:
        yield Seeded(deployment_id, client)
    finally:
        client.close()


def page_kind(path: str, query: str) -> str:
    """What makes two URLs the same page: the path (ids replaced) and the names of its query parameters."""
    keys = sorted({k for k, _v in parse_qsl(query) if k not in {"page", "next"}})
    return path + ("?" + "&".join(keys) if keys else "")


def matches(pattern: str, path: str) -> bool:
    regex = "^/console" + re.sub(r"\\\{\w\\\}", "[^/]+", re.escape(pattern)) + "$"
    return re.match(regex, path) is not None


@dataclass
class Finding:
    url: str
    problem: str


def check_page(page: Page, url: str, lang: str) -> list[Finding]:
    """Open `url` and return what is off on it (see the module docstring)."""
    found: list[Finding] = []
    response = page.goto(url)
    status = response.status if response is not None else 0
    if status != 200:
        return [Finding(url, f"status {status}")]
    page.wait_for_load_state("networkidle")
    path = urlsplit(page.url).path
    if path.endswith("/metrics"):
        expect(page.locator("#charts")).to_have_attribute("data-loaded", re.compile(r"^\d+$"))
    found += [Finding(url, f"wider than {WIDTH} px: {el}") for el in page.evaluate(OVERFLOW)]
    found += [Finding(url, f"chart text overlaps: {o}") for o in page.evaluate(CHART_OVERLAPS)]
    found += [Finding(url, f"squashed: {s}") for s in page.evaluate(SQUASHED)]
    texts: list[str] = page.evaluate(VISIBLE_TEXT)
    for text in texts:
        if ISO_DATE.search(text):
            found.append(Finding(url, f"raw ISO date: {text!r}"))
        if RAW_ROLE.search(text):
            found.append(Finding(url, f"raw role key: {text!r}"))
        if lang == "zh-CN" and ENGLISH_RUN.search(text):
            found.append(Finding(url, f"English in 中文: {text!r}"))
    for action in page.evaluate(DESTRUCTIVE_FORMS):
        if DESTRUCTIVE.search(action) and action != path:
            found.append(Finding(url, f"no confirmation before POST {action}"))
    return found


def links(page: Page, origin: str) -> list[str]:
    hrefs: list[str] = page.evaluate("() => Array.from(document.querySelectorAll('a[href]'), (a) => a.href)")
    out = []
    for href in hrefs:
        parts = urlsplit(href)
        if f"{parts.scheme}://{parts.netloc}" != origin or not parts.path.startswith("/console"):
            continue
        if NOT_PAGES.search(parts.path):
            continue
        out.append(parts._replace(fragment="").geturl())
    return out


def crawl(page: Page, platform: Platform, lang: str, shots: Path) -> tuple[set[str], list[Finding]]:
    """Follow the console's links from the deployment list; the paths reached and what is off."""
    origin = platform.serve.base_url
    page.goto(f"{platform.console}/lang?to={lang}&next=/console/deployments")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    queue = [f"{platform.console}/deployments"]
    seen: set[str] = set()
    reached: set[str] = set()
    findings: list[Finding] = []
    while queue:
        url = queue.pop(0)
        parts = urlsplit(url)
        kind = page_kind(parts.path, parts.query)
        if kind in seen:
            continue
        seen.add(kind)
        found = check_page(page, url, lang)
        findings += found
        if found and found[0].problem.startswith("status"):
            continue
        reached.add(parts.path)
        name = f"{lang}-" + parts.path.removeprefix("/console/").replace("/", "_").replace(":", "_")
        for folder in (shots, SCREENSHOTS / "every-page"):
            folder.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
        queue += links(page, origin)
    return reached, findings


def test_every_page_fits_760_px_in_english_and_chinese(
    page: Page, platform: Platform, seeded: Seeded, tmp_path: Path
) -> None:
    login(page, platform)
    page.goto(f"{platform.console}/accounts")
    page.get_by_label("User name").fill("ops-lead")
    page.get_by_label("Password").fill("ops-lead-password")
    page.get_by_label("Role").select_option("project_administrator")
    page.locator("input[name=projects]").first.check()
    page.get_by_role("button", name="Add account").click()
    expect(page.locator("body")).to_contain_text("ops-lead")
    page.set_viewport_size({"width": WIDTH, "height": 900})
    shutil.rmtree(SCREENSHOTS / "every-page", ignore_errors=True)
    findings: list[Finding] = []
    for lang in ("en", "zh-CN"):
        reached, found = crawl(page, platform, lang, tmp_path)
        findings += found
        wanted = [p.replace("{d}", seeded.deployment_id) if "{d}" in p else p for p in EXPECTED]
        missing = [p for p in wanted if not any(matches(p, r) for r in reached)]
        findings += [Finding(p, f"{lang}: no link leads to it") for p in missing]
    overview = f"{platform.console}/deployments/{seeded.deployment_id}"
    page.goto(overview)
    tabs = page.locator("nav.tabs a").evaluate_all("(links) => links.map((a) => a.href)")
    findings += [Finding(overview, f"no {tab} tab") for tab in TABS if f"{overview}/{tab}" not in tabs]
    page.goto(f"{platform.console}/lang?to=en&next=/console/deployments")
    page.set_viewport_size({"width": 1280, "height": 800})
    report = "\n".join(f"{f.url.removeprefix(platform.console)}: {f.problem}" for f in findings)
    assert not findings, f"{len(findings)} problems:\n{report}"
