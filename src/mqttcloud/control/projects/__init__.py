"""Projects: groups of deployments ("default" always exists); `GET /public_api/v1/projects`."""
