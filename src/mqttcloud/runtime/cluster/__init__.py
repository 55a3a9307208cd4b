"""Cluster nodes joined through NATS: the wire format (`codec`) and the link (`link`)."""
