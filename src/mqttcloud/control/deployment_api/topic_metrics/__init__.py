"""Topic metrics of a deployment: EMQX 5's `/mqtt/topic_metrics` (registered topics, their counts and
rates) and the console page over the same use cases."""
