"""Retained messages of a running deployment: EMQX 5's retainer API (`/mqtt/retainer/...`) and the console."""
