"""The control plane: Platform and Deployment APIs, console, database and the broker supervisor."""
