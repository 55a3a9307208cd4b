"""The shadow service (Dedicated v4, spec §2.3.9): shadow models and their JSON documents per deployment.

`models.py` holds the table, `service.py` the use cases and the PATCH merge rule, `v4.py` the HTTP
presenter at `/api/shadows`, and `relay.py` the MQTT side (`shadow/{id}` requests answered on
`shadow/{id}/reply`, through the broker's admin `capture` op).
"""
