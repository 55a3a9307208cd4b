"""Client event history (EMQX Event History), control-plane side.

`collector.py` takes each running Dedicated broker's recorded events (admin op `events`) and stores them;
`service.py` owns the `client_events` table (write, query, retention and size cap); `v5.py` presents it
as the Deployment API extension `GET /api/v5/event_history`; the console shows a client's timeline.
"""
