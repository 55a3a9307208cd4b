"""A live table never raises for what its brokers or its filter refuse: a refused filter is shown at its
field (the page answers 400), any other refusal is the table's live error."""

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass

from mqttcloud.control.console.live_tables import LiveTable, Whole, live_table
from mqttcloud.control.deployment_api.errors import ServiceUnavailable
from mqttcloud.control.errors import BadRequest


@dataclass
class Listed:
    data: Sequence[int]
    count: int
    hasnext: bool


def shout(message: str) -> str:
    return message.upper()


def row(n: int) -> dict[str, object]:
    return {"n": n}


async def test_a_page_becomes_rows_with_its_count_and_next() -> None:
    async def fetch() -> Listed:
        return Listed([1, 2], 7, True)

    table = await live_table(shout, fetch, row, filter_field="topic")
    assert table == LiveTable(rows=[{"n": 1}, {"n": 2}], count=7, hasnext=True)
    assert table.status == 200
    assert table.context()["rows"] == [{"n": 1}, {"n": 2}]


async def test_a_whole_list_is_its_only_page() -> None:
    async def fetch() -> Whole[int]:
        return Whole([3])

    assert await live_table(shout, fetch, row) == LiveTable(rows=[{"n": 3}], count=1, hasnext=False)


async def test_a_refused_filter_is_shown_translated_at_its_field() -> None:
    async def named() -> Listed:
        raise BadRequest("qos must be between 0 and 2", field="qos")

    table = await live_table(shout, named, row, filter_field="topic")
    assert (table.errors, table.live_error, table.status) == ({"qos": "QOS MUST BE BETWEEN 0 AND 2"}, "", 400)

    async def unnamed() -> Listed:
        raise BadRequest("wildcard in the wrong place")

    assert (await live_table(shout, unnamed, row, filter_field="topic")).errors == {
        "topic": "WILDCARD IN THE WRONG PLACE"
    }


async def test_a_filter_parsed_when_the_fetch_is_called_is_caught_too() -> None:
    """`lambda: service.page(target, views.filters(query), ...)` raises before it returns an awaitable."""

    def parse_then_fetch() -> Awaitable[Listed]:
        raise BadRequest("qos must be an integer", field="qos")

    table = await live_table(shout, parse_then_fetch, row, filter_field="qos")
    assert table.errors == {"qos": "QOS MUST BE AN INTEGER"}


async def test_a_stopped_deployment_or_an_unfiltered_table_gives_a_live_error() -> None:
    async def stopped() -> Listed:
        raise ServiceUnavailable("Deployment is not running")

    table = await live_table(shout, stopped, row, filter_field="topic")
    assert (table.rows, table.live_error, table.errors, table.status) == (
        [],
        "Deployment is not running",
        {},
        200,
    )

    async def refused() -> Listed:
        raise BadRequest("bad page")

    assert (await live_table(shout, refused, row)).live_error == "bad page"
