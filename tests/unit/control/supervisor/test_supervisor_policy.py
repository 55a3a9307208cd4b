"""The pure supervision rules: reconcile, backoff, crash accounting. The clock is a plain number."""

import pytest

from mqttcloud.contracts import (
    AdminSpec,
    BrokerSpec,
    ListenerKind,
    ListenerSpec,
    TenantId,
    TenantSpec,
    TlsSpec,
    UserRecord,
)
from mqttcloud.control.supervisor.policy import (
    Apply,
    DesiredBroker,
    Nothing,
    Restart,
    RestartPolicy,
    RunningBroker,
    Spawn,
    Stop,
    backoff,
    is_failed,
    needs_restart,
    recent_crashes,
    reconcile,
)


def make_spec(broker_id: str = "d1", changes: dict[str, object] | None = None) -> BrokerSpec:
    spec = BrokerSpec(
        broker_id=broker_id,
        data_dir=f"/srv/{broker_id}/data",
        ready_file=f"/srv/{broker_id}/ready.json",
        admin=AdminSpec(token="secret"),
        listeners=[ListenerSpec(name="tcp:default", kind=ListenerKind.TCP, port=0, tenant=TenantId("t1"))],
        tenants=[TenantSpec(tenant_id=TenantId("t1"))],
    )
    return spec.model_copy(update=changes or {})


def test_reconcile_spawns_a_new_broker() -> None:
    spec = make_spec()
    assert reconcile({"d1": DesiredBroker(spec, 1)}, {}) == [Spawn("d1", spec, 1)]


def test_reconcile_stops_a_broker_no_longer_desired() -> None:
    assert reconcile({}, {"d1": RunningBroker(make_spec(), 1)}) == [Stop("d1")]


def test_reconcile_leaves_an_unchanged_broker_alone() -> None:
    spec = make_spec()
    assert reconcile({"d1": DesiredBroker(spec, 1)}, {"d1": RunningBroker(spec, 1)}) == [Nothing("d1")]


def test_reconcile_applies_a_tls_swap_live() -> None:
    old = make_spec()
    new = make_spec(changes={"tls": TlsSpec(cert_pem="CERT", key_pem="KEY")})
    steps = reconcile({"d1": DesiredBroker(new, 2)}, {"d1": RunningBroker(old, 1)})
    assert steps == [Apply("d1", new, 2)]


def test_reconcile_applies_a_user_change_live() -> None:
    old = make_spec()
    tenant = TenantSpec(tenant_id=TenantId("t1"), users=[UserRecord(user_id="u", password_hash="h")])
    new = make_spec(changes={"tenants": [tenant]})
    assert reconcile({"d1": DesiredBroker(new, 2)}, {"d1": RunningBroker(old, 1)}) == [Apply("d1", new, 2)]


@pytest.mark.parametrize(
    "change",
    [
        {"admin": AdminSpec(token="other")},
        {"data_dir": "/elsewhere"},
        {"ready_file": "/elsewhere/ready.json"},
        {"node_name": "mqttcloud@10.0.0.1"},
    ],
)
def test_reconcile_restarts_for_a_process_level_change(change: dict[str, object]) -> None:
    old = make_spec()
    new = make_spec(changes=change)
    assert needs_restart(old, new)
    assert reconcile({"d1": DesiredBroker(new, 2)}, {"d1": RunningBroker(old, 1)}) == [Restart("d1", new, 2)]


def test_reconcile_keeps_a_failed_broker_failed_while_its_spec_is_unchanged() -> None:
    spec = make_spec()
    running = {"d1": RunningBroker(spec, 1, is_failed=True)}
    assert reconcile({"d1": DesiredBroker(spec, 1)}, running) == [Nothing("d1")]


def test_reconcile_respawns_a_failed_broker_when_its_spec_changes() -> None:
    old = make_spec()
    new = make_spec(changes={"sys_interval": 0.0})
    running = {"d1": RunningBroker(old, 1, is_failed=True)}
    assert reconcile({"d1": DesiredBroker(new, 2)}, running) == [Spawn("d1", new, 2)]


def test_reconcile_stops_a_failed_broker_that_is_removed() -> None:
    assert reconcile({}, {"d1": RunningBroker(make_spec(), 1, is_failed=True)}) == [Stop("d1")]


def test_reconcile_returns_one_step_per_broker_sorted_by_id() -> None:
    a, b, c = make_spec("a"), make_spec("b"), make_spec("c")
    b2 = make_spec("b", {"sys_interval": 1.0})
    desired = {"c": DesiredBroker(c, 1), "b": DesiredBroker(b2, 2)}
    running = {"a": RunningBroker(a, 1), "b": RunningBroker(b, 1)}
    assert reconcile(desired, running) == [Stop("a"), Apply("b", b2, 2), Spawn("c", c, 1)]


def test_backoff_is_zero_without_failures() -> None:
    assert backoff(0) == 0.0


def test_backoff_doubles_then_caps() -> None:
    rules = RestartPolicy(backoff_base=0.5, backoff_cap=3.0)
    assert [backoff(n, rules) for n in range(1, 7)] == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_backoff_survives_a_huge_failure_count() -> None:
    assert backoff(10_000) == RestartPolicy().backoff_cap


def test_five_crashes_within_five_minutes_is_failed() -> None:
    crashes = [0.0, 10.0, 20.0, 30.0, 299.0]
    assert is_failed(crashes, now=299.0)
    assert not is_failed(crashes[:4], now=299.0)


def test_old_crashes_fall_out_of_the_window() -> None:
    crashes = [0.0, 10.0, 20.0, 30.0, 400.0]
    assert recent_crashes(crashes, now=400.0) == 1
    assert not is_failed(crashes, now=400.0)


def test_policy_bounds_are_configurable() -> None:
    rules = RestartPolicy(max_crashes=2, crash_window=1.0)
    assert is_failed([5.0, 5.5], now=5.9, policy=rules)
    assert not is_failed([5.0, 5.5], now=6.2, policy=rules)
