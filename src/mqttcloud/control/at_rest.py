"""Data at rest: the data folder is private to its owner, and stored secrets are sealed with a data key.

- `secure_data_dir` makes the data folder 0700 and every folder under it 0700, every file 0600 (the
  database and its WAL/SHM, broker folders, specs, stores and logs), tightening what an older install
  left readable. `serve` also sets the process umask to 077, so what it (and the brokers it spawns,
  which inherit the umask) creates later is private from the start.
- `SecretBox` seals secrets the platform must read back (customer TLS private keys, data-integration
  connector passwords) with Fernet (AES-128-CBC + HMAC-SHA256). The key is kept outside the database:
  `MQTTCLOUD_SECRET_KEY`, or `<data-dir>/secret.key` (0600), generated at first start.

Rule: a sealed value starts with `SEALED_PREFIX`; anything else is a plain value from before sealing,
which the start-up step seals (`certificates.service.seal_plain_keys`,
`deployment_api.integration.store.seal_plain_passwords`). A value is opened only where a broker spec
is built.
"""

import base64
import binascii
import contextlib
import logging
import os
import stat
import time
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from mqttcloud.control.config import Settings
from mqttcloud.control.errors import ConfigError

logger = logging.getLogger(__name__)

KEY_FILE = "secret.key"
SEALED_PREFIX = "fernet:"
PRIVATE_UMASK = 0o077
_DIR_MODE = 0o700
_FILE_MODE = 0o600


class SecretUnreadable(Exception):  # noqa: N818  (reads as what happened)
    """A sealed value could not be opened: the data key is not the one it was sealed with."""


def secure_data_dir(data_dir: Path) -> None:
    """Create `data_dir` (0700) and make everything under it owner-only (folders 0700, files 0600)."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=_DIR_MODE)
    _chmod(data_dir, _DIR_MODE)
    for root, dirs, files in os.walk(data_dir):
        for name in dirs:
            _chmod(Path(root) / name, _DIR_MODE)
        for name in files:
            _chmod(Path(root) / name, _FILE_MODE)


def _chmod(path: Path, mode: int) -> None:
    with contextlib.suppress(FileNotFoundError):  # a broker may remove its files meanwhile
        current = path.lstat()
        if stat.S_ISLNK(current.st_mode):
            return
        if stat.S_IMODE(current.st_mode) & ~mode:
            os.chmod(path, stat.S_IMODE(current.st_mode) & mode)


def is_sealed(value: str) -> bool:
    return value.startswith(SEALED_PREFIX)


class SecretBox:
    """Seals and opens secret strings with one data key (a urlsafe-base64 32-byte Fernet key)."""

    def __init__(self, key: str) -> None:
        try:
            if len(base64.urlsafe_b64decode(key.encode())) != 32:
                raise ValueError("not 32 bytes")
            self._fernet = Fernet(key.encode())
        except (ValueError, binascii.Error) as exc:
            raise ConfigError(
                "MQTTCLOUD_SECRET_KEY (or secret.key) must be a Fernet key: 32 bytes in urlsafe base64 "
                f"({exc})"
            ) from None

    @classmethod
    def for_settings(cls, settings: Settings) -> "SecretBox":
        """The box of this platform: `settings.secret_key`, else the key file (created when missing)."""
        if settings.secret_key is not None:
            return cls(settings.secret_key)
        return cls(_key_file(settings.data_dir / KEY_FILE))

    def seal(self, value: str) -> str:
        return SEALED_PREFIX + self._fernet.encrypt(value.encode()).decode("ascii")

    def open(self, value: str) -> str:
        """The plain text of a sealed value; a value sealed by no box (from before sealing) as it is.

        Raises:
            SecretUnreadable: sealed with another key (the key file was replaced or the variable changed).
        """
        if not is_sealed(value):
            return value
        try:
            return self._fernet.decrypt(value[len(SEALED_PREFIX) :].encode("ascii")).decode()
        except (InvalidToken, UnicodeError) as exc:
            raise SecretUnreadable("a stored secret was sealed with another data key") from exc


def _key_file(path: Path) -> str:
    """Read the key file, or create it (0600, exclusively: two processes starting at once agree)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=_DIR_MODE)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
    except FileExistsError:
        for _ in range(100):  # another process created it a moment ago and is still writing it
            key = path.read_text(encoding="ascii").strip()
            if key:
                return key
            time.sleep(0.01)
        return key
    key = Fernet.generate_key().decode("ascii")
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key + "\n")
        out.flush()
        os.fsync(out.fileno())
    logger.info("generated the data key %s (keep it with the database: sealed secrets need it)", path)
    return key
