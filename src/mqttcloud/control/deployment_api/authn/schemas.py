"""Request and response models of the authentication users (both API shapes)."""

from pydantic import Field

from mqttcloud.control.deployment_api.schemas import In, Out


class UserIn(In):
    user_id: str = Field(min_length=1, max_length=255)
    password: str = Field(min_length=1)
    is_superuser: bool = False


class UserUpdate(In):
    password: str | None = Field(default=None, min_length=1)
    is_superuser: bool | None = None


class ImportUser(In):
    user_id: str = Field(min_length=1, max_length=255)
    password: str | None = None
    password_hash: str | None = None
    salt: str = ""
    is_superuser: bool = False


class UsernameIn(In):
    username: str = Field(min_length=1, max_length=255)
    password: str = Field(min_length=1)


class ClientidIn(In):
    clientid: str = Field(min_length=1, max_length=255)
    password: str = Field(min_length=1)


class PasswordIn(In):
    password: str = Field(min_length=1)


class UserOut(Out):
    """v5: `{"user_id", "is_superuser"}`."""

    user_id: str
    is_superuser: bool
