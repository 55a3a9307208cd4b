"""Import every table module so `Base.metadata` is complete (Alembic, tests)."""


def load_all_models() -> None:
    # Imported for their side effect of registering tables on Base.metadata.
    import mqttcloud.control.accounts.models  # noqa: PLC0415
    import mqttcloud.control.api_keys.models  # noqa: PLC0415
    import mqttcloud.control.certificates.models  # noqa: PLC0415
    import mqttcloud.control.deployments.models  # noqa: PLC0415
    import mqttcloud.control.projects.models  # noqa: F401, PLC0415
