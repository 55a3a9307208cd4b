"""Serverless-specific control-plane pieces: the CA download (routes.py)."""
