"""Request and response models of the ACL rules (both API shapes)."""

from pydantic import Field

from mqttcloud.control.deployment_api.schemas import In, Out


class RuleIn(In):
    topic: str = Field(min_length=1)
    action: str = "all"
    permission: str


class ClientRulesIn(In):
    clientid: str = Field(min_length=1, max_length=255)
    rules: list[RuleIn]


class UserRulesIn(In):
    username: str = Field(min_length=1, max_length=255)
    rules: list[RuleIn]


class AllRulesIn(In):
    rules: list[RuleIn]


class AclIn(In):
    """v4 `POST /acl`: one of `clientid`, `username` (neither: the rule is for everyone)."""

    clientid: str | None = None
    username: str | None = None
    topic: str = Field(min_length=1)
    action: str
    access: str


class RuleOut(Out):
    """v5: `{"topic", "action", "permission"}`."""

    topic: str
    action: str
    permission: str


class AclRuleOut(Out):
    """v4: `{"username"|"clientid"|"all": ..., "topic", "action", "access"}` (absent target keys omitted)."""

    username: str | None = None
    clientid: str | None = None
    all: str | None = None
    topic: str
    action: str
    access: str

    def dump(self) -> dict[str, object]:
        return self.model_dump(mode="json", exclude_none=True)
