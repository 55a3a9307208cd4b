"""The console's live tables (clients, subscriptions, retained messages, topic metrics): one page of a list
that the running brokers answer, turned into rows, or into why there are none.

Rule: a table never raises for what its brokers or its filter refuse. A refused filter (400, naming its
field) is shown at that field, and the page answers 400; any other refusal (the deployment not running, a
node not answering) is the table's `live_error`. Each page keeps its own row shape, filters and template;
this module owns how a page of rows is fetched.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from mqttcloud.control.errors import ApiError

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Listed(Protocol[T_co]):
    """A page of a list as the Deployment API's use cases return it (`ClientList`, `RetainedList`...)."""

    @property
    def data(self) -> Sequence[T_co]: ...

    @property
    def count(self) -> int: ...

    @property
    def hasnext(self) -> bool: ...


@dataclass(frozen=True)
class Whole(Generic[T]):
    """A list a use case returns whole (topic metrics), as its only page."""

    data: Sequence[T]

    @property
    def count(self) -> int:
        return len(self.data)

    @property
    def hasnext(self) -> bool:
        return False


@dataclass(frozen=True, kw_only=True)
class LiveTable:
    """One page of a live table as its template reads it."""

    rows: list[dict[str, object]] = field(default_factory=list)
    count: int = 0
    hasnext: bool = False
    live_error: str = ""  # the brokers' refusal, in English (templates translate it)
    errors: dict[str, str] = field(default_factory=dict)  # a refused filter, translated, at its field

    @property
    def status(self) -> int:
        return 400 if self.errors else 200

    def context(self) -> dict[str, object]:
        """The template variables: `rows`, `count`, `hasnext`, `live_error`, `errors`."""
        return {
            "rows": self.rows,
            "count": self.count,
            "hasnext": self.hasnext,
            "live_error": self.live_error,
            "errors": self.errors,
        }


async def live_table(
    translate: Callable[[str], str],
    fetch: Callable[[], Awaitable[Listed[T]]],
    row: Callable[[T], dict[str, object]],
    *,
    filter_field: str | None = None,
) -> LiveTable:
    """Fetch one page and make its rows, or say why there are none.

    Args:
        translate: the page's translator (`Page.t`), for a refused filter's message.
        fetch: the use case's call; what it raises, and what calling it raises (a filter parsed from the
            query), is caught here.
        row: one item as the template's row.
        filter_field: the field a refused filter is shown at when the error names none; None when the
            table has no filter the use case may refuse (every refusal is then a `live_error`).
    """
    try:
        listed = await fetch()
    except ApiError as error:
        if filter_field is not None and error.status_code == 400:
            return LiveTable(errors={error.field or filter_field: translate(error.message)})
        return LiveTable(live_error=error.message)
    return LiveTable(rows=[row(item) for item in listed.data], count=listed.count, hasnext=listed.hasnext)
