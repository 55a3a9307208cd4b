"""metrics domain of the Deployment API: service.py (use cases), v5.py and v4.py (presenters)."""
