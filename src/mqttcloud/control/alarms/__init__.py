"""Alarms: raised and cleared by the platform's periodic checker, listed through the APIs and the console."""
