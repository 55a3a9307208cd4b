"""Deployments: Dedicated (one broker process each) and Serverless (tenants of one shared broker)."""
