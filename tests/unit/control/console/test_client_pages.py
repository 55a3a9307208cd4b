"""Client pages without a broker: every fact label is translated, a kick asks first and kicks nothing."""

from tests.unit.control.console.conftest import Console
from tests.unit.control.console.test_deployment_pages import create_deployment
from tests.unit.control.console.test_live_pages import client_info

from mqttcloud.contracts import ClientInfo
from mqttcloud.control.console import client_pages, i18n


def test_every_fact_label_has_its_chinese_text() -> None:
    counters = ("recv_msg", "send_msg", "send_msg_dropped", "recv_pkt", "send_pkt", "recv_oct", "send_oct")
    limits = ("subscriptions", "inflight", "mqueue", "awaiting_rel")
    fields = {
        **client_info("dev-1", "user-1").__dict__,
        **dict.fromkeys(counters, 3),
        **{f"{name}_{end}": 1 for name in limits for end in ("cnt", "len", "max")},
        "mqueue_dropped": 0,
        "clean_start": True,
        "connected": True,
        "created_at": 1.0,
        "disconnected_at": None,
        "expiry_interval": 0,
        "node": "n1",
    }
    info = ClientInfo.model_construct(**fields)
    facts = client_pages._detail(info, lambda word: i18n.translate("zh-CN", word))
    labels = {label for rows in facts.values() for label, _value in rows} | set(facts)
    assert sorted(labels - i18n.ZH_CN.keys()) == []
    values = dict(facts["Connection"])
    assert values["Status"] == "已连接"
    assert dict(facts["Session"])["Clean start"] == "是"


async def test_kick_page_asks_first_with_the_client_id_in_the_form(root_console: Console) -> None:
    deployment_id = await create_deployment(root_console)
    page = await root_console.get(f"/console/deployments/{deployment_id}/clients/kick?clientid=a%2Fb")
    assert page.status_code == 200
    assert f'action="/console/deployments/{deployment_id}/clients/kick"' in page.text
    assert 'name="clientid" value="a/b"' in page.text
    assert "Kick a/b?" in page.text
