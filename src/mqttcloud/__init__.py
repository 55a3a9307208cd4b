"""mqttcloud: a self-hosted MQTT cloud platform wire-compatible with the EMQX Platform APIs."""

__version__ = "0.1.0"
