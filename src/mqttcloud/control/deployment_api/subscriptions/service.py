"""Subscriptions' use cases: list them, and subscribe or unsubscribe a connected client on its behalf.

Live data only, on the deployment's running broker (`Live.broker`); broker errors become API errors
in `live.call` (an unknown client: 404 `CLIENTID_NOT_FOUND`; a bad filter: 400 `BAD_TOPIC`).
"""

from mqttcloud.contracts import SubscriptionFilter, SubscriptionInfo, SubscriptionList
from mqttcloud.control.broker_client import BrokerError
from mqttcloud.control.deployment_api import live
from mqttcloud.control.deployment_api.target import Live


async def page(target: Live, filters: SubscriptionFilter, *, page: int, limit: int) -> SubscriptionList:
    return await live.call(target.broker().list_subscriptions(target.tenant, filters, page, limit))


async def of_client(target: Live, clientid: str) -> SubscriptionList:
    """Raises: NotFound (`CLIENTID_NOT_FOUND`)."""
    return await live.call(target.broker().client_subscriptions(target.tenant, clientid))


async def subscribe(
    target: Live, clientid: str, topic: str, *, qos: int, nl: int = 0, rap: int = 0, rh: int = 0
) -> SubscriptionInfo:
    """Raises: NotFound (`CLIENTID_NOT_FOUND`), BadRequest (`BAD_TOPIC`)."""
    broker = target.broker()
    return await live.call(broker.subscribe(target.tenant, clientid, topic, qos=qos, nl=nl, rap=rap, rh=rh))


async def unsubscribe(target: Live, clientid: str, topic: str) -> None:
    """A topic the client was not subscribed to is not an error (as EMQX); an unknown client is.

    Raises: NotFound (`CLIENTID_NOT_FOUND`)."""
    broker = target.broker()

    async def unsubscribe_known() -> None:
        try:
            await broker.unsubscribe(target.tenant, clientid, topic)
        except BrokerError as exc:
            if exc.code != "CLIENTID_NOT_FOUND":
                raise
            await broker.get_client(target.tenant, clientid)  # CLIENTID_NOT_FOUND if the client is unknown

    await live.call(unsubscribe_known())
