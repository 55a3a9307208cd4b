"""Connected clients' use cases: list, look up and kick, on the deployment's running broker.

Live data only: every call goes to the broker's admin channel (`Live.broker`), and a stopped
deployment answers 503 (`live.client_for`); broker errors become API errors in `live.call`.
"""

from typing import Any

from mqttcloud.contracts import ClientFilter, ClientInfo, ClientList
from mqttcloud.control.deployment_api import live
from mqttcloud.control.deployment_api.target import Live


async def page_raw(target: Live, filters: ClientFilter, *, page: int, limit: int) -> dict[str, Any]:
    """One page as the admin channel sends it: `{"data": [ClientInfo by alias...], "count", "hasnext"}`
    (raw JSON, so a page of 10,000 clients never builds a model per client)."""
    broker = target.broker()
    return await live.call(broker.list_clients_raw(target.tenant, filters, page, limit))


async def get(target: Live, clientid: str) -> ClientInfo:
    """Raises: NotFound (`CLIENTID_NOT_FOUND`)."""
    return await live.call(target.broker().get_client(target.tenant, clientid))


async def kick(target: Live, clientid: str) -> None:
    """Disconnect the client and end its session. Raises: NotFound (`CLIENTID_NOT_FOUND`)."""
    await live.call(target.broker().kick(target.tenant, clientid))


async def page(target: Live, filters: ClientFilter, *, page: int, limit: int) -> ClientList:
    """One page of clients as models (the console's small pages)."""
    return await live.call(target.broker().list_clients(target.tenant, filters, page, limit))
