"""What `vulture src vulture_whitelist.py` may not see used (scripts/check runs it).

Each name here is used by something vulture cannot follow. Keep it short: a name that
is merely unused is deleted, not listed.
"""
# ruff: noqa: B018, F821

# Read by uvicorn or named to it as a string.
_.should_exit  # uvicorn.Server's stop flag (admin/serve.py, cli/server.py, serving.py)
_.force_exit  # uvicorn.Server (serving.py)
app_from_env  # "teamgate.app:app_from_env", uvicorn's --factory in cli/run.py

# The signature of __exit__ / __aexit__.
exc_type
tb

# Dataclass fields read through dataclasses.asdict / row mappers, never by attribute.
usage_source  # ledger.records.UsageRecord
updated_at  # ledger.upstream_records

# The simulator exists for tests, demos and benchmarks: its control surface is their API.
_.complete_batches
_.release_held
_.request_count
_.authorizations

# Counters kept for tests and bench/ (observability of the component itself).
_.polls  # endpoints.batch_poller.BatchPoller
_.calls  # shared_redis.batching.ScriptBatcher
_.slots_taken  # limits memory and Redis counters: the slot-leak checks of the fault tests
RATE_LIMIT_REASONS  # errors: the documented refusal vocabulary (tests check every one)
BUDGET_REASONS
ALERT_SCHEMA  # observability.alert_delivery: the published JSON Schema of alert bodies (docs, tests)
