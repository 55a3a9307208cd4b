"""Tenant access control: CONNECT decisions, bans and ACL evaluation compiled from a TenantSpec."""

from dataclasses import dataclass
from typing import Any

import pytest

from mqttcloud.broker.access import Access, covers
from mqttcloud.broker.hooks import Authorizer, AuthRequest, ClientContext, PeerInfo
from mqttcloud.contracts import (
    AclAction,
    AclPermission,
    AclRule,
    BanKind,
    BanRecord,
    HashAlgorithm,
    SaltPosition,
    TenantId,
    TenantSpec,
    UserRecord,
)
from mqttcloud.passwords import hash_password
from mqttcloud.protocol.reason_codes import ReasonCode
from mqttcloud.protocol.topics import is_valid_topic_filter, is_valid_topic_name, match

NOW = 1_700_000_000.0


def user(user_id: str, password: str, *, kind: str = "username", superuser: bool = False) -> UserRecord:
    hashed = hash_password(
        password, algorithm=HashAlgorithm.SHA256, salt_position=SaltPosition.SUFFIX, salt="salt"
    )
    return hashed.to_record(
        user_id=user_id,
        kind="clientid" if kind == "clientid" else "username",
        is_superuser=superuser,
    )


def tenant(**fields: Any) -> TenantSpec:
    return TenantSpec(tenant_id=TenantId("t1"), **fields)


def rule(topic: str, action: str = "all", permission: str = "allow", **who: str) -> AclRule:
    return AclRule(topic=topic, action=AclAction(action), permission=AclPermission(permission), **who)


@dataclass(frozen=True)
class Ctx:
    clientid: str = "c1"
    username: str | None = "u1"
    is_superuser: bool = False


# -- authentication ------------------------------------------------------------------------------


def auth(access: Access, **overrides: Any) -> tuple[bool, ReasonCode, bool]:
    args: dict[str, Any] = {
        "clientid": "c1",
        "username": "u1",
        "password": b"pw",
        "peerhost": "10.0.0.1",
        "now": NOW,
    }
    args.update(overrides)
    decision = access.authenticate(**args)
    return decision.allowed, decision.reason_code, decision.is_superuser


def test_known_username_with_right_password_is_accepted() -> None:
    access = Access(tenant(users=[user("u1", "pw")]))
    assert auth(access) == (True, ReasonCode.SUCCESS, False)


def test_superuser_flag_comes_from_the_user_record() -> None:
    access = Access(tenant(users=[user("u1", "pw", superuser=True)]))
    assert auth(access) == (True, ReasonCode.SUCCESS, True)


@pytest.mark.parametrize("password", [b"wrong", b"", None])
def test_known_username_with_wrong_or_missing_password_is_0x86(password: bytes | None) -> None:
    access = Access(tenant(users=[user("u1", "pw")], allow_anonymous=True))
    assert auth(access, password=password) == (False, ReasonCode.BAD_USER_NAME_OR_PASSWORD, False)


def test_clientid_user_authenticates_when_username_has_no_user() -> None:
    access = Access(tenant(users=[user("c1", "cpw", kind="clientid")]))
    assert auth(access, username="other", password=b"cpw")[0] is True
    assert auth(access, username=None, password=b"cpw")[0] is True
    assert auth(access, username=None, password=b"bad")[1] == ReasonCode.BAD_USER_NAME_OR_PASSWORD


def test_username_user_takes_precedence_over_clientid_user() -> None:
    access = Access(tenant(users=[user("u1", "upw"), user("c1", "cpw", kind="clientid")]))
    assert auth(access, password=b"upw")[0] is True
    assert auth(access, password=b"cpw")[1] == ReasonCode.BAD_USER_NAME_OR_PASSWORD


def test_username_user_is_not_matched_by_clientid() -> None:
    """A `username` entry named like the client id does not authenticate a client without that username."""
    access = Access(tenant(users=[user("c1", "pw")]))
    assert auth(access, username=None)[1] == ReasonCode.NOT_AUTHORIZED


def test_unknown_user_without_anonymous_is_0x87_like_emqx_chain_exhaustion() -> None:
    access = Access(tenant(users=[user("someone", "pw")], allow_anonymous=False))
    assert auth(access) == (False, ReasonCode.NOT_AUTHORIZED, False)
    assert auth(access, username=None, password=None) == (False, ReasonCode.NOT_AUTHORIZED, False)


def test_anonymous_allowed_accepts_clients_matching_no_user() -> None:
    access = Access(tenant(users=[user("someone", "pw")], allow_anonymous=True))
    assert auth(access, username=None, password=None) == (True, ReasonCode.SUCCESS, False)
    assert auth(access, username="unknown", password=b"x") == (True, ReasonCode.SUCCESS, False)


def test_empty_username_counts_as_none() -> None:
    access = Access(tenant(users=[user("c1", "pw", kind="clientid")]))
    assert auth(access, username="")[0] is True


def test_disabled_tenant_refuses_everyone_with_0x88() -> None:
    access = Access(tenant(users=[user("u1", "pw")], enabled=False, allow_anonymous=True))
    assert auth(access) == (False, ReasonCode.SERVER_UNAVAILABLE, False)


def test_authenticate_request_uses_peer_address() -> None:
    ban = BanRecord(kind=BanKind.PEERHOST, who="10.9.9.9", at=NOW)
    access = Access(tenant(users=[user("u1", "pw")], banned=[ban]))
    peer = PeerInfo(listener="tcp:default", ip_address="10.9.9.9", port=5555)
    request = AuthRequest(clientid="c1", username="u1", password=b"pw", peer=peer, proto_ver=5)
    assert access.authenticate_request(request, NOW).reason_code == ReasonCode.BANNED


# -- bans ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "who"),
    [(BanKind.CLIENTID, "c1"), (BanKind.USERNAME, "u1"), (BanKind.PEERHOST, "10.0.0.1")],
)
def test_ban_refuses_even_valid_credentials_with_0x8a(kind: BanKind, who: str) -> None:
    access = Access(tenant(users=[user("u1", "pw")], banned=[BanRecord(kind=kind, who=who, at=NOW)]))
    assert auth(access) == (False, ReasonCode.BANNED, False)


def test_ban_expires_at_until() -> None:
    ban = BanRecord(kind=BanKind.CLIENTID, who="c1", at=NOW - 10, until=NOW + 5)
    access = Access(tenant(users=[user("u1", "pw")], banned=[ban]))
    assert auth(access, now=NOW + 4.9)[1] == ReasonCode.BANNED
    assert auth(access, now=NOW + 5)[0] is True


def test_ban_without_until_is_forever() -> None:
    access = Access(tenant(banned=[BanRecord(kind=BanKind.USERNAME, who="u1", at=0)]))
    assert access.is_banned(clientid="x", username="u1", peerhost=None, now=1e12)


def test_ban_kinds_do_not_cross() -> None:
    """A client-id ban does not hit a client whose *username* equals the banned string."""
    access = Access(tenant(banned=[BanRecord(kind=BanKind.CLIENTID, who="u1", at=NOW)]))
    assert not access.is_banned(clientid="c1", username="u1", peerhost="u1", now=NOW)
    assert access.is_banned(clientid="u1", username=None, peerhost=None, now=NOW)


def test_peerhost_ban_matches_ipv4_mapped_and_normalised_ipv6() -> None:
    bans = [
        BanRecord(kind=BanKind.PEERHOST, who="10.0.0.1", at=NOW),
        BanRecord(kind=BanKind.PEERHOST, who="2001:db8:0:0::1", at=NOW),
    ]
    access = Access(tenant(banned=bans))
    assert access.is_banned(clientid="c", username=None, peerhost="::ffff:10.0.0.1", now=NOW)
    assert access.is_banned(clientid="c", username=None, peerhost="2001:db8::1", now=NOW)
    assert not access.is_banned(clientid="c", username=None, peerhost="10.0.0.2", now=NOW)


def test_find_ban_returns_the_record() -> None:
    ban = BanRecord(kind=BanKind.CLIENTID, who="c1", reason="spam", at=NOW)
    access = Access(tenant(banned=[ban]))
    assert access.find_ban(clientid="c1", username=None, peerhost=None, now=NOW) == ban
    assert access.find_ban(clientid="c2", username=None, peerhost=None, now=NOW) is None


# -- ACL -----------------------------------------------------------------------------------------


def test_access_is_an_authorizer_for_the_core() -> None:
    authorizer: Authorizer = Access(tenant(acl_default=AclPermission.DENY, acl=[rule("t")]))
    peer = PeerInfo(listener="tcp:default", ip_address="127.0.0.1", port=1)
    client = ClientContext(clientid="c1", username="u1", peer=peer)
    assert authorizer.can_publish(client, "t")
    assert not authorizer.can_subscribe(client, "other")


def test_no_rules_falls_back_to_acl_default() -> None:
    assert Access(tenant()).can_publish(Ctx(), "a")
    denied = Access(tenant(acl_default=AclPermission.DENY))
    assert not denied.can_publish(Ctx(), "a")
    assert not denied.can_subscribe(Ctx(), "a")


def test_superuser_skips_acl() -> None:
    access = Access(tenant(acl_default=AclPermission.DENY, acl=[rule("#", permission="deny")]))
    assert access.can_publish(Ctx(is_superuser=True), "a")
    assert access.can_subscribe(Ctx(is_superuser=True), "#")


def test_first_matching_rule_wins_in_list_order_across_targets() -> None:
    acl = [
        rule("a/#", permission="deny"),  # for all, first
        rule("a/b", permission="allow", username="u1"),
        rule("x/#", permission="allow", clientid="c1"),
        rule("x/y", permission="deny", username="u1"),
    ]
    access = Access(tenant(acl=acl, acl_default=AclPermission.DENY))
    assert not access.can_publish(Ctx(), "a/b")  # the earlier "all" deny wins over the username allow
    assert access.can_publish(Ctx(), "x/y")  # the earlier clientid allow wins over the username deny


def test_rule_targets_only_its_username_or_clientid() -> None:
    acl = [rule("t", username="u1"), rule("k", clientid="c1")]
    access = Access(tenant(acl=acl, acl_default=AclPermission.DENY))
    assert access.can_publish(Ctx(), "t")
    assert not access.can_publish(Ctx(username="u2"), "t")
    assert not access.can_publish(Ctx(username=None), "t")
    assert access.can_publish(Ctx(username=None), "k")
    assert not access.can_publish(Ctx(clientid="c2"), "k")


def test_rule_with_username_and_clientid_needs_both() -> None:
    access = Access(tenant(acl=[rule("t", username="u1", clientid="c1")], acl_default=AclPermission.DENY))
    assert access.can_publish(Ctx(), "t")
    assert not access.can_publish(Ctx(clientid="c2"), "t")


def test_action_restricts_the_rule() -> None:
    acl = [rule("p", action="publish"), rule("s", action="subscribe")]
    access = Access(tenant(acl=acl, acl_default=AclPermission.DENY))
    assert access.can_publish(Ctx(), "p")
    assert not access.can_subscribe(Ctx(), "p")
    assert access.can_subscribe(Ctx(), "s")
    assert not access.can_publish(Ctx(), "s")


def test_publish_wildcards_match_topic_names() -> None:
    access = Access(tenant(acl=[rule("a/+/c"), rule("d/#")], acl_default=AclPermission.DENY))
    assert access.can_publish(Ctx(), "a/b/c")
    assert not access.can_publish(Ctx(), "a/b/c/d")
    assert access.can_publish(Ctx(), "d")
    assert access.can_publish(Ctx(), "d/e/f")
    assert not access.can_publish(Ctx(), "e")


def test_leading_wildcard_rule_does_not_match_dollar_topics() -> None:
    access = Access(tenant(acl=[rule("#")], acl_default=AclPermission.DENY))
    assert not access.can_publish(Ctx(), "$SYS/x")
    assert not access.can_subscribe(Ctx(), "$SYS/#")
    assert access.can_subscribe(Ctx(), "#")


def test_subscribe_filter_must_be_covered_by_the_rule() -> None:
    access = Access(tenant(acl=[rule("a/+")], acl_default=AclPermission.DENY))
    assert access.can_subscribe(Ctx(), "a/b")
    assert access.can_subscribe(Ctx(), "a/+")
    assert not access.can_subscribe(Ctx(), "a/#")  # receives a/b/c, which a/+ does not allow
    assert not access.can_subscribe(Ctx(), "+/b")
    assert not access.can_subscribe(Ctx(), "#")


@pytest.mark.parametrize(
    ("rule_filter", "sub_filter", "expected"),
    [
        ("#", "a/#", True),
        ("a/#", "a/#", True),
        ("a/#", "a", True),
        ("a/#", "a/b/+/#", True),
        ("a/#", "#", False),
        ("+/#", "#", True),  # the same set of topics
        ("a/+/#", "a/#", False),  # a/# also receives "a"
        ("a/b", "a/b", True),
        ("a/b", "a/+", False),
        ("a/+/c", "a/+/c", True),
        ("a/+/c", "a/b/c/d", False),
        ("a/+", "a", False),
        ("+/+", "a/+", True),
        ("+", "$SYS", False),
        ("$SYS/#", "$SYS/broker/+", True),
    ],
)
def test_covers(rule_filter: str, sub_filter: str, expected: bool) -> None:
    assert covers(rule_filter, sub_filter) is expected


def test_deny_on_narrower_filter_does_not_block_broader_subscription() -> None:
    """EMQX semantics, documented in the module: deny a/b + allow # still lets a/# through."""
    access = Access(tenant(acl=[rule("a/b", permission="deny"), rule("#")]))
    assert not access.can_subscribe(Ctx(), "a/b")
    assert access.can_subscribe(Ctx(), "a/#")


def test_eq_rule_matches_only_the_literal_filter() -> None:
    acl = [rule("eq t/#", permission="deny"), rule("#")]
    access = Access(tenant(acl=acl, acl_default=AclPermission.DENY))
    assert not access.can_subscribe(Ctx(), "t/#")
    assert access.can_subscribe(Ctx(), "t/x")
    assert access.can_subscribe(Ctx(), "t/+")


def test_eq_rule_for_publish_compares_the_topic() -> None:
    access = Access(tenant(acl=[rule("eq a/b")], acl_default=AclPermission.DENY))
    assert access.can_publish(Ctx(), "a/b")
    assert not access.can_publish(Ctx(), "a/c")


def test_eq_rule_does_not_substitute_placeholders() -> None:
    access = Access(tenant(acl=[rule("eq d/%c")], acl_default=AclPermission.DENY))
    assert access.can_publish(Ctx(), "d/%c")
    assert not access.can_publish(Ctx(), "d/c1")


@pytest.mark.parametrize("template", ["d/%u/%c/#", "d/${username}/${clientid}/#"])
def test_placeholders_are_substituted(template: str) -> None:
    access = Access(tenant(acl=[rule(template)], acl_default=AclPermission.DENY))
    assert access.can_publish(Ctx(), "d/u1/c1/x")
    assert access.can_subscribe(Ctx(), "d/u1/c1/#")
    assert not access.can_publish(Ctx(), "d/u2/c1/x")
    assert not access.can_publish(Ctx(clientid="c2"), "d/u1/c1/x")


def test_placeholder_without_value_does_not_match() -> None:
    acl = [rule("d/%u/#", permission="allow"), rule("d/#", permission="deny")]
    access = Access(tenant(acl=acl))
    assert not access.can_publish(Ctx(username=None), "d/x")
    assert not access.can_publish(Ctx(username=None), "d//x")


@pytest.mark.parametrize("clientid", ["+", "#", "a/b", "x+"])
def test_placeholder_values_with_wildcards_or_separators_never_match(clientid: str) -> None:
    access = Access(tenant(acl=[rule("devices/%c/#")], acl_default=AclPermission.DENY))
    assert not access.can_subscribe(Ctx(clientid=clientid), "devices/+/#")
    assert not access.can_publish(Ctx(clientid=clientid), "devices/other/x")


def test_shared_subscription_is_checked_on_the_inner_filter() -> None:
    access = Access(tenant(acl=[rule("t/#")], acl_default=AclPermission.DENY))
    assert access.can_subscribe(Ctx(), "$share/g/t/x")
    assert not access.can_subscribe(Ctx(), "$share/g/u/x")
    assert access.can_subscribe(Ctx(), "$queue/t/x")
    assert not access.can_subscribe(Ctx(), "$share/g")  # malformed
    assert not access.can_subscribe(Ctx(), "$queue/")


def test_eq_rule_applies_to_shared_inner_filter() -> None:
    access = Access(tenant(acl=[rule("eq t/#", permission="deny")]))
    assert not access.can_subscribe(Ctx(), "$share/g/t/#")


def test_many_users_index_keeps_checks_independent_of_other_users() -> None:
    """Rules are indexed per username: the 2,000 other users' rules (the Serverless quota) are skipped."""
    acl = [rule(f"u/{i}/#", username=f"user{i}") for i in range(2000)]
    access = Access(tenant(acl=acl, acl_default=AclPermission.DENY))
    assert access.can_publish(Ctx(username="user1999"), "u/1999/x")
    assert not access.can_publish(Ctx(username="user1999"), "u/1/x")
    assert tuple(access._rules_for("c1", "user5")) == (access._by_username["user5"][0],)


_LEVELS = ["a", "b", "+", "#", "$s", ""]


def _topics(max_levels: int) -> list[str]:
    out = [""]
    result: list[str] = []
    for _ in range(max_levels):
        out = [f"{prefix}/{level}" if prefix else level for prefix in out for level in _LEVELS]
        result.extend(out)
    return sorted(set(result))


def test_publish_matching_agrees_with_protocol_topics_match() -> None:
    """The ACL's level matcher gives the same answer as protocol.topics.match on every small case."""
    filters = [f for f in _topics(3) if is_valid_topic_filter(f)]
    names = [n for n in _topics(3) if is_valid_topic_name(n) and n]
    access_by_filter = {
        f: Access(tenant(acl=[rule(f"eq {f}", permission="deny"), rule(f)], acl_default=AclPermission.DENY))
        for f in filters
    }
    for f in filters:
        for n in names:
            expected = match(f, n) and n != f
            assert access_by_filter[f].can_publish(Ctx(), n) is expected, (f, n)


def test_subscribe_covering_agrees_with_matching_on_small_cases() -> None:
    """A rule covers a subscription exactly when every name the subscription matches also matches the rule."""
    filters = [f for f in _topics(3) if is_valid_topic_filter(f)]
    names = [n for n in _topics(4) if is_valid_topic_name(n) and n]
    matched = {f: frozenset(n for n in names if match(f, n)) for f in filters}
    for rule_filter in filters:
        access = Access(tenant(acl=[rule(rule_filter)], acl_default=AclPermission.DENY))
        for sub in filters:
            if matched[sub]:
                expected = matched[sub] <= matched[rule_filter]
                assert covers(rule_filter, sub) is expected, (rule_filter, sub)
                assert access.can_subscribe(Ctx(), sub) is expected, (rule_filter, sub)


def test_username_that_looks_like_a_placeholder_is_taken_literally() -> None:
    access = Access(tenant(acl=[rule("d/%u/%c")], acl_default=AclPermission.DENY))
    assert access.can_publish(Ctx(username="%c", clientid="c1"), "d/%c/c1")
    assert not access.can_publish(Ctx(username="%c", clientid="c1"), "d/c1/c1")


def test_merged_rule_lists_are_reused_and_bounded() -> None:
    acl = [rule("a", username="u1"), rule("b", clientid="c1"), rule("c")]
    access = Access(tenant(acl=acl, acl_default=AclPermission.DENY))
    for topic in ("a", "b", "c"):
        assert access.can_publish(Ctx(), topic)
    assert list(access._merged) == [("u1", "c1")]
    assert [r.topic for r in access._merged[("u1", "c1")]] == ["a", "b", "c"]


def test_merged_rule_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mqttcloud.broker.access._MERGED_CACHE_MAX", 2)
    access = Access(tenant(acl=[rule("a", clientid=f"c{i}") for i in range(5)] + [rule("b")]))
    for i in range(5):
        assert access.can_publish(Ctx(clientid=f"c{i}"), "a")
        assert len(access._merged) <= 2


@pytest.mark.parametrize(
    ("template", "topic", "expected"),
    [
        ("d/%c", "d/c1", True),
        ("d/%c", "d/c2", False),
        ("d/%c/#", "d/c1", True),
        ("d/%c/#", "d/c1/x/y", True),
        ("d/%c/#", "d/c2/x", False),
        ("d/+/%c", "d/x/c1", True),
        ("d/+/%c", "d/x/c2", False),
    ],
)
def test_placeholder_rules_of_every_shape(template: str, topic: str, expected: bool) -> None:
    access = Access(tenant(acl=[rule(template)], acl_default=AclPermission.DENY))
    assert access.can_publish(Ctx(), topic) is expected
    assert access.can_subscribe(Ctx(), topic) is expected
