"""The small routes beside the metered gateway: models, a team's own usage, readiness."""
