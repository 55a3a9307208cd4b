"""The online MQTT client of a deployment: a page that connects from the browser with MQTT.js.

The page gives `mqtt_client.js` the deployment's WebSocket addresses (ws, and wss once it has TLS), the
name of one of its MQTT users to start from and a fresh client ID; the script connects, subscribes,
publishes and lists what it sends and receives. MQTT.js is the npm `mqtt` package's browser bundle,
vendored as `static/vendor/mqtt.min.js` with its licence (no build step).

Rule: only this page lets the browser connect elsewhere: its Content-Security-Policy adds `connect-src`
for exactly this deployment's WebSocket origins; every other console page connects to 'self' only.
"""

import secrets
from dataclasses import dataclass

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from mqttcloud.control.console.deployment_pages import addresses
from mqttcloud.control.console.pages import PREFIX, ConsoleRoute, LoggedIn, run
from mqttcloud.control.console.sections import load_view, render_section
from mqttcloud.control.db import SessionDep
from mqttcloud.control.deployment_api.authn import store as authn
from mqttcloud.control.deployments import service as deployments

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

WEBSOCKET_PROTOCOLS = ("wss", "ws")  # the secure one first: the page picks it when the deployment has TLS


@dataclass(frozen=True, slots=True)
class WebSocketAddress:
    protocol: str  # ws | wss
    label: str  # a message id (translated by the template)
    url: str  # ws://host:port/mqtt

    @property
    def origin(self) -> str:
        """`ws://host:port`: what the page's connect-src allows."""
        scheme, _, rest = self.url.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}"


def _first_user_name(session: Session, deployment_id: str) -> str:
    """The oldest MQTT user that authenticates by user name, or "" when there is none."""
    users, _total = authn.page(session, deployment_id=deployment_id, kind="username", page=1, limit=1)
    return users[0].user_id if users else ""


def _connect_src(urls: list[WebSocketAddress]) -> str:
    return " ".join(["connect-src 'self'", *sorted({address.origin for address in urls})])


@router.get("/deployments/{deployment_id}/mqtt-client", response_class=HTMLResponse)
async def mqtt_client_page(deployment_id: str, page: LoggedIn, session: SessionDep) -> Response:
    view = await load_view(session, page, deployment_id)
    schema = deployments.to_schema(page.state.settings, view)
    by_protocol = {a.protocol: a for a in addresses(schema.endpoints) if a.url is not None}
    urls = [
        WebSocketAddress(protocol, by_protocol[protocol].label, str(by_protocol[protocol].url))
        for protocol in WEBSOCKET_PROTOCOLS
        if protocol in by_protocol
    ]
    response = render_section(
        page,
        view,
        "mqtt_client.html",
        tab="mqtt-client",
        urls=urls,
        username=await run(_first_user_name, session, deployment_id),
        client_id=f"mqttcloud-web-{secrets.token_hex(4)}",
        serverless=view.deployment.deployment_type.is_serverless,
    )
    policy = response.headers["Content-Security-Policy"]
    response.headers["Content-Security-Policy"] = f"{policy}; {_connect_src(urls)}"
    return response
