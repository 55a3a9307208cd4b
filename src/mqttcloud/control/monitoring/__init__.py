"""Monitoring: every running deployment's stats and metrics, sampled by the platform and kept downsampled.

series.py (pure: readings, rates, tiers), models.py + store.py (the `monitor_points` table), sampler.py
(the task `serve` runs), service.py (use cases), api.py (the Deployment API's `/monitor` extension).
"""
