"""Access control for one tenant: authentication, ACL and bans, compiled from a `contracts.TenantSpec`.

`Access(tenant)` compiles the tenant's users, rules and bans once; build a new one whenever the spec
changes. Its only mutable part is a bounded memo of each client's merged rule list, derived from its
own rules, so nothing in it can go stale. It implements the core's
`hooks.Authorizer` (`can_publish` / `can_subscribe`) and answers CONNECT with a `hooks.ConnectDecision`.
Sans-I/O: no clock reads (`now` is an argument, epoch seconds), no sockets.

Authentication (EMQX 5 built-in database semantics, in this order):
1. A disabled tenant refuses everyone: 0x88 Server unavailable.
2. A ban on the client id, the username or the peer address whose `until` is None or later than `now`:
   0x8A Banned (v3.1.1: 5 not authorized).
3. A username with a `username` user: the password must verify, else 0x86 Bad user name or password.
4. Otherwise a client id with a `clientid` user: the same check.
5. Otherwise no user matched (EMQX's authenticator answers `ignore`). With `allow_anonymous` the client is
   accepted (not a superuser), whether or not it sent a user name, as EMQX 4's allow_anonymous and EMQX
   5's empty authenticator chain do. Without it the chain is exhausted, which EMQX answers with
   `not_authorized`: 0x87 Not authorized (v3.1.1: 5). A wrong password for a known user is 0x86.

Authorization (EMQX `emqx_authz` semantics):
- Superusers skip the ACL.
- The rules that apply to a client (username rules, clientid rules, rules for all) are tried in their
  order in the tenant's list; the first whose action and topic match decides; otherwise `acl_default`.
  A rule naming both a username and a client id applies only when both match.
- Topics: `eq <filter>` matches only that literal string (no placeholders, no wildcards). Otherwise
  `%u` / `${username}` and `%c` / `${clientid}` are substituted first; a rule whose placeholder has no
  value, or a value containing `/`, `+`, `#` or U+0000, does not match (so the client id "+" cannot turn
  `devices/%c/#` into `devices/+/#`).
- PUBLISH: the rule filter must match the topic name (MQTT matching: `#` covers the parent level, a
  leading wildcard never matches a `$` topic).
- SUBSCRIBE: the rule filter must *cover* the requested filter, i.e. every topic the subscription can
  receive also matches the rule: a rule `+` level covers a literal or `+`, a rule `#` covers the rest
  (including `#`), a literal covers only the same literal. This is EMQX's "match the filter as if it were a
  topic" except that EMQX also lets rule `a/+` cover `a/#`; we do not, because `a/#` receives `a/b/c`,
  which `a/+` does not allow. As in EMQX, a deny rule on a narrower filter (deny `a/b`) does not block a
  broader subscription (`a/#`): deny the broad filter too, or use `acl_default = deny`.
- `$share/{group}/{filter}` and EMQX's `$queue/{filter}` are checked on `{filter}`.
"""

import heapq
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Protocol

from mqttcloud.broker.hooks import AuthRequest, ConnectDecision
from mqttcloud.contracts import (
    AclAction,
    AclPermission,
    AclRule,
    BanKind,
    BanRecord,
    TenantSpec,
    UserRecord,
)
from mqttcloud.passwords import verify_password
from mqttcloud.protocol.reason_codes import ReasonCode
from mqttcloud.protocol.topics import parse_shared

_PLACEHOLDER = re.compile(r"(%u|%c|\$\{username\}|\$\{clientid\})")
_USERNAME_PLACEHOLDERS = ("%u", "${username}")
_QUEUE_PREFIX = "$queue/"
_EXACT, _SUBTREE, _LEVELS = 0, 1, 2  # _Rule.shape
_MERGED_CACHE_MAX = 65536  # distinct (username, clientid) pairs remembered per Access


class Subject(Protocol):
    """What an ACL check needs to know about the client (`hooks.ClientContext` fits)."""

    @property
    def clientid(self) -> str: ...

    @property
    def username(self) -> str | None: ...

    @property
    def is_superuser(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class _Rule:
    index: int  # position in the tenant's list: the evaluation order
    allow: bool
    publish: bool
    subscribe: bool
    eq: bool  # literal match
    topic: str  # the literal (eq) or the filter, possibly with placeholders
    shape: int  # _EXACT, _SUBTREE ("a/b/#", "#": a prefix test) or _LEVELS: how the filter is matched
    levels: tuple[str, ...]  # the filter split in levels (_LEVELS)
    template: tuple[str, ...] | None  # literal, placeholder, literal, ... when the filter has placeholders
    also_clientid: str | None  # a rule naming both username and clientid


def _compile_rule(index: int, rule: AclRule) -> _Rule:
    eq = rule.topic.startswith("eq ")
    topic = rule.topic[3:] if eq else rule.topic
    parts = tuple(_PLACEHOLDER.split(topic))
    head, _, last = topic.rpartition("/")
    if eq or ("+" not in topic and "#" not in topic):
        shape = _EXACT
    elif last == "#" and "+" not in head and "#" not in head:
        shape = _SUBTREE
    else:
        shape = _LEVELS
    return _Rule(
        index=index,
        allow=rule.permission is AclPermission.ALLOW,
        publish=rule.action in (AclAction.PUBLISH, AclAction.ALL),
        subscribe=rule.action in (AclAction.SUBSCRIBE, AclAction.ALL),
        eq=eq,
        topic=topic,
        shape=shape,
        levels=tuple(topic.split("/")),
        template=parts if not eq and len(parts) > 1 else None,
        also_clientid=rule.clientid if rule.username is not None else None,
    )


def _render(template: tuple[str, ...], clientid: str, username: str | None) -> str | None:
    """The filter with placeholders substituted; None when a value is missing or unsafe.

    Safe values hold no `/`, `+` or `#`, so the result has the template's shape (`_Rule.shape`).
    """
    parts = list(template)
    for i in range(1, len(parts), 2):  # re.split with one group: placeholders at odd positions
        value = username if parts[i] in _USERNAME_PLACEHOLDERS else clientid
        if not value or "/" in value or "+" in value or "#" in value or "\x00" in value:
            return None
        parts[i] = value
    return "".join(parts)


def _match_levels(rule: Sequence[str], name: Sequence[str]) -> bool:
    """MQTT matching of a topic name against a filter, both split in levels (see `topics.match`)."""
    if name[0][:1] == "$" and rule[0] in ("+", "#"):
        return False  # [MQTT-4.7.2-1]
    for i, level in enumerate(rule):
        if level == "#":
            return True  # also the parent level: "a/#" matches "a"
        if i >= len(name) or level not in ("+", name[i]):
            return False
    return len(rule) == len(name)


def _covers_levels(rule: Sequence[str], sub: Sequence[str]) -> bool:
    if sub[0][:1] == "$" and rule[0] in ("+", "#"):
        return False  # [MQTT-4.7.2-1] the rule cannot match the `$` topics the filter receives
    for i, level in enumerate(rule):
        if level == "#":
            return True
        if i >= len(sub):
            return False
        if sub[i] == "#":
            # The subscription also receives the parent level ("a/#" gets "a") and any depth below;
            # only a rule "#" here covers that, or "+/#" for a bare "#" (which has no parent level).
            return i == 0 and len(rule) == 2 and level == "+" and rule[1] == "#"
        if level not in ("+", sub[i]):
            return False
    return len(rule) == len(sub)


def covers(rule_filter: str, topic_filter: str) -> bool:
    """True if every topic name matching `topic_filter` also matches `rule_filter`."""
    return _covers_levels(rule_filter.split("/"), topic_filter.split("/"))


def _normalise_host(host: str) -> str:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


class Access:
    """The compiled access control of one tenant. Immutable; rebuild it on every spec change."""

    def __init__(self, tenant: TenantSpec) -> None:
        self.tenant_id = tenant.tenant_id
        self.enabled = tenant.enabled
        self.allow_anonymous = tenant.allow_anonymous
        self.default_allow = tenant.acl_default is AclPermission.ALLOW

        users: dict[tuple[str, str], UserRecord] = {}
        for user in tenant.users:
            users.setdefault((user.kind, user.user_id), user)  # the first entry wins on duplicates
        self._users = users

        by_username: dict[str, list[_Rule]] = {}
        by_clientid: dict[str, list[_Rule]] = {}
        for_all: list[_Rule] = []
        for index, rule in enumerate(tenant.acl):
            compiled = _compile_rule(index, rule)
            if rule.username is not None:
                by_username.setdefault(rule.username, []).append(compiled)
            elif rule.clientid is not None:
                by_clientid.setdefault(rule.clientid, []).append(compiled)
            else:
                for_all.append(compiled)
        self._by_username = {k: tuple(v) for k, v in by_username.items()}
        self._by_clientid = {k: tuple(v) for k, v in by_clientid.items()}
        self._for_all = tuple(for_all)
        self._merged: dict[tuple[str | None, str], tuple[_Rule, ...]] = {}

        bans: dict[tuple[BanKind, str], list[BanRecord]] = {}
        for ban in tenant.banned:
            who = _normalise_host(ban.who) if ban.kind is BanKind.PEERHOST else ban.who
            bans.setdefault((ban.kind, who), []).append(ban)
        self._bans = bans

    # -- bans ----------------------------------------------------------------------------------------

    def find_ban(
        self, *, clientid: str | None, username: str | None, peerhost: str | None, now: float
    ) -> BanRecord | None:
        """The ban in force at `now` on this client id, username or peer address, if any."""
        if not self._bans:
            return None
        keys: list[tuple[BanKind, str]] = []
        if clientid is not None:
            keys.append((BanKind.CLIENTID, clientid))
        if username:
            keys.append((BanKind.USERNAME, username))
        if peerhost:
            keys.append((BanKind.PEERHOST, _normalise_host(peerhost)))
        for key in keys:
            for ban in self._bans.get(key, ()):
                if ban.until is None or ban.until > now:
                    return ban
        return None

    def is_banned(
        self, *, clientid: str | None, username: str | None, peerhost: str | None, now: float
    ) -> bool:
        """Whether a ban is in force: checked at CONNECT, and to find clients to kick after a new ban."""
        return self.find_ban(clientid=clientid, username=username, peerhost=peerhost, now=now) is not None

    # -- authentication ------------------------------------------------------------------------------

    def authenticate(
        self,
        *,
        clientid: str,
        username: str | None,
        password: bytes | None,
        peerhost: str | None,
        now: float,
    ) -> ConnectDecision:
        """Decide a CONNECT (see the module docstring for the order of the rules)."""
        if not self.enabled:
            return ConnectDecision(
                allowed=False, reason_code=ReasonCode.SERVER_UNAVAILABLE, reason_string="deployment stopped"
            )
        if self.is_banned(clientid=clientid, username=username, peerhost=peerhost, now=now):
            return ConnectDecision(allowed=False, reason_code=ReasonCode.BANNED)
        user = None
        if username is not None:
            user = self._users.get(("username", username))
        if user is None:
            user = self._users.get(("clientid", clientid))
        if user is not None:
            if password is not None and verify_password(user, password):
                return ConnectDecision(allowed=True, is_superuser=user.is_superuser)
            return ConnectDecision(allowed=False, reason_code=ReasonCode.BAD_USER_NAME_OR_PASSWORD)
        if self.allow_anonymous:
            return ConnectDecision(allowed=True)
        return ConnectDecision(allowed=False, reason_code=ReasonCode.NOT_AUTHORIZED)

    def authenticate_request(self, request: AuthRequest, now: float) -> ConnectDecision:
        """`authenticate` for the core's `AuthRequest`."""
        return self.authenticate(
            clientid=request.clientid,
            username=request.username,
            password=request.password,
            peerhost=request.peer.ip_address,
            now=now,
        )

    # -- authorization -------------------------------------------------------------------------------

    def _rules_for(self, clientid: str, username: str | None) -> tuple[_Rule, ...]:
        """The rules that apply to this client, in list order."""
        key = (username, clientid)
        merged = self._merged.get(key)
        if merged is not None:
            return merged
        lists: list[tuple[_Rule, ...]] = []
        if username is not None and (by_user := self._by_username.get(username)):
            lists.append(by_user)
        if by_client := self._by_clientid.get(clientid):
            lists.append(by_client)
        if self._for_all:
            lists.append(self._for_all)
        if len(lists) < 2:
            merged = lists[0] if lists else ()
        else:
            merged = tuple(heapq.merge(*lists, key=attrgetter("index")))
        # A memo derived from this object's own immutable rules only, so it cannot go stale.
        if len(self._merged) >= _MERGED_CACHE_MAX:
            self._merged.clear()
        self._merged[key] = merged
        return merged

    def _decide(self, client: Subject, topic: str, *, subscribe: bool) -> bool:
        if client.is_superuser:
            return True
        clientid = client.clientid
        username = client.username or None
        topic_levels: list[str] | None = None
        for rule in self._rules_for(clientid, username):
            if not (rule.subscribe if subscribe else rule.publish):
                continue
            if rule.also_clientid is not None and rule.also_clientid != clientid:
                continue
            rule_filter = rule.topic
            if rule.template is not None:
                rendered = _render(rule.template, clientid, username)
                if rendered is None:
                    continue
                rule_filter = rendered
            if rule.shape == _EXACT:
                # A literal filter matches (or covers) only the identical string; `eq` rules too.
                matched = rule_filter == topic
            elif rule.shape == _SUBTREE:
                prefix = rule_filter[:-1]
                if prefix:  # "a/b/#" matches "a/b" and everything below it
                    matched = topic.startswith(prefix) or topic == prefix[:-1]
                else:  # "#" matches everything but `$` topics [MQTT-4.7.2-1]
                    matched = not topic.startswith("$")
            else:
                rule_levels = rule.levels if rule.template is None else tuple(rule_filter.split("/"))
                if topic_levels is None:
                    topic_levels = topic.split("/")
                if subscribe:
                    matched = _covers_levels(rule_levels, topic_levels)
                else:
                    matched = _match_levels(rule_levels, topic_levels)
            if matched:
                return rule.allow
        return self.default_allow

    def can_publish(self, client: Subject, topic: str) -> bool:
        """Whether `client` may publish to topic name `topic`."""
        return self._decide(client, topic, subscribe=False)

    def can_subscribe(self, client: Subject, topic_filter: str) -> bool:
        """Whether `client` may subscribe to `topic_filter` (shared subscriptions: the inner filter)."""
        if topic_filter.startswith("$share/"):
            shared = parse_shared(topic_filter)
            if shared is None:
                return False
            topic_filter = shared[1]
        elif topic_filter.startswith(_QUEUE_PREFIX):
            topic_filter = topic_filter[len(_QUEUE_PREFIX) :]
            if not topic_filter:
                return False
        return self._decide(client, topic_filter, subscribe=True)
