"""Custom TLS certificates of Dedicated deployments: `/public_api/v1/deployments/{id}/tls` (spec §2.1.1)."""
