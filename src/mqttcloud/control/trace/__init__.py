"""Log traces of a deployment (EMQX `/api/v5/trace`): stored here, run by the deployment's broker."""
