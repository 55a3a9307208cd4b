"""Lists across nodes: a page of the nodes' lists one after the other, read with few node pages."""

from collections import Counter
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mqttcloud.control.deployment_api.nodes import Slice, merged_page, plan_page, summed


def test_plan_page_takes_what_each_node_holds_in_order() -> None:
    counts = [3, 0, 5]
    assert plan_page(counts, 1, 2) == [Slice(0, 0, 2)]
    assert plan_page(counts, 2, 2) == [Slice(0, 2, 3), Slice(2, 0, 1)]
    assert plan_page(counts, 3, 2) == [Slice(2, 1, 3)]
    assert plan_page(counts, 4, 2) == [Slice(2, 3, 5)]
    assert plan_page(counts, 5, 2) == []


class FakeNodes:
    """Node lists answered page by page, as a broker's admin channel does; counts the pages read."""

    def __init__(self, lists: list[list[str]]) -> None:
        self.lists = lists
        self.reads: Counter[int] = Counter()

    async def fetch(self, node: int, page: int, limit: int) -> dict[str, Any]:
        self.reads[node] += 1
        items = self.lists[node]
        return {"data": items[(page - 1) * limit : page * limit], "count": len(items)}


@given(
    sizes=st.lists(st.integers(0, 12), min_size=1, max_size=4),
    limit=st.integers(1, 7),
    page=st.integers(1, 10),
)
async def test_merged_page_is_the_page_of_the_concatenated_lists(
    sizes: list[int], limit: int, page: int
) -> None:
    lists = [[f"n{node}-c{i}" for i in range(size)] for node, size in enumerate(sizes)]
    nodes = FakeNodes(lists)
    result = await merged_page(list(range(len(lists))), nodes.fetch, page, limit)
    everything = [item for items in lists for item in items]
    assert result["data"] == everything[(page - 1) * limit : page * limit]
    assert result["count"] == len(everything)
    assert result["hasnext"] == (page * limit < len(everything))
    assert (result["page"], result["limit"]) == (page, limit)
    assert max(nodes.reads.values()) <= 3  # its first page, then at most two aligned pages


async def test_a_node_whose_list_shrank_meanwhile_gives_what_it_has() -> None:
    class Shrinking(FakeNodes):
        async def fetch(self, node: int, page: int, limit: int) -> dict[str, Any]:
            result = await super().fetch(node, page, limit)
            self.lists[node] = self.lists[node][:1]  # clients left after the count was read
            return result

    nodes = Shrinking([["a", "b", "c"], ["d"]])
    result = await merged_page([0, 1], nodes.fetch, 2, 2)
    assert result["data"] == ["d"]  # node 0 no longer has its third client; node 1 still has its first
    assert result["count"] == 4


@pytest.mark.parametrize(
    ("values", "total"),
    [
        (
            [{"connections.count": 2}, {"connections.count": 3, "topics.count": 1}],
            {"connections.count": 5, "topics.count": 1},
        )
    ],
)
def test_summed_adds_every_name(values: list[dict[str, int]], total: dict[str, int]) -> None:
    assert summed(values) == total
