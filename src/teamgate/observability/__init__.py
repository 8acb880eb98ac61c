"""What the gateway tells operators: metrics, alerts, logs, access log, traces."""
