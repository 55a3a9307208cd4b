"""The Deployment API: what EMQX Platform customers script against, per deployment (spec §2.2-§2.4).

Organised by domain: `authn/`, `acl/`, `banned/` (stored data), `clients/`, `subscriptions/`,
`publish/`, `metrics/` (live data, from the broker's admin channel through `live.py`). Each domain's
`service.py` owns its use cases once, acting on a `target.Target` (the deployment's database session,
broker and plan); its `v5.py` and `v4.py` are thin presenters, assembled into the two shapes by `v5.py`
(`/api/v5`) and `v4.py` (`/api`); the console calls the same services. Every request is authenticated
with a deployment API key and authorised by `auth.authorize` (keys in `keys/`). Stored data reaches the
broker through `access.tenant_contents` when specs are built, pushed after every write.

Public API for the rest of the control plane:
    mount.install(app, quotas=None)           include both routers and their state in a FastAPI app
    access.tenant_contents(session) / access_spec    users, ACL rules and bans for broker specs
    keys.service.create_key / list_keys / delete_key     deployment API keys (console, CLI)

This package's `__init__` imports nothing: importing any module of it (a store, `live`, `target`) must
not load the routers, which import the rest of the control plane.
"""
