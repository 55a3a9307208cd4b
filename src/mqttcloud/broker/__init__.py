"""The broker core, sans-I/O: no asyncio, no sockets, no clock reads (time is a `now: float` argument).

One `Broker` instance serves one tenant. `broker` imports only `mqttcloud.protocol`, the stdlib and
`mqttcloud.contracts` (for the `Limits` / `TenantSpec` / admin result models it returns).
"""
