"""How the console words why a connector or action is not connected, in the page's language.

A status reason comes from two places: the platform (`disabled`, the deployment not running) and the
broker's action sinks (`runtime/rules/`), which word a few reasons themselves (`connect timeout`,
`CONNACK refused: NOT_AUTHORIZED`) and otherwise pass on the target's own error (psycopg's, redis',
the OS's `ConnectionRefusedError: ...`). Rule: every reason we word ourselves is translated whole; a
target's error is never translated but always shown inside a translated sentence, so a 中文 page never
shows a bare English reason.
"""

from collections.abc import Callable

from mqttcloud.control.deployment_api.integration.service import NOT_RUNNING

# Reasons the platform words, already message ids of the console's tables.
PLATFORM_REASONS = frozenset({"disabled", NOT_RUNNING})
# Reasons the action sinks word whole, and the sentence each is shown as.
SINK_REASONS: dict[str, str] = {
    "connect timeout": "Connecting to the target timed out.",
    "request timeout": "The target did not answer in time.",
    "closed": "The connection to the target was closed.",
    "connection closed before the response": "The target closed the connection before answering.",
    "no PINGRESP from the broker": "The target broker stopped answering pings.",
}
# Reasons the action sinks word as a prefix and a value (an MQTT reason code's name).
SINK_PREFIXES: dict[str, str] = {
    "CONNACK refused: ": "The target broker refused the connection: %s",
    "disconnected by the broker: ": "The target broker closed the connection: %s",
}
# Any other reason is the target's own error text.
TARGET_ERROR = "Cannot reach the target: %s"


def reason_text(translate: Callable[[str], str], reason: str) -> str:
    """`reason` (a status reason as the service gives it) as the page shows it; empty stays empty.

    Args:
        translate: the page's translator (`Page.t`).
        reason: `service.status`'s reason: the platform's, a sink's, or the target's error text.
    """
    if not reason:
        return ""
    if reason in PLATFORM_REASONS:
        return translate(reason)
    if reason in SINK_REASONS:
        return translate(SINK_REASONS[reason])
    for prefix, sentence in SINK_PREFIXES.items():
        if reason.startswith(prefix):
            return translate(sentence) % reason.removeprefix(prefix)
    return translate(TARGET_ERROR) % reason


def messages() -> set[str]:
    """Every message id `reason_text` may look up (for the translation test)."""
    return {*PLATFORM_REASONS, *SINK_REASONS.values(), *SINK_PREFIXES.values(), TARGET_ERROR}
