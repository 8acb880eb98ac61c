-- wrk script: POST a chat completion with the row's Authorization header.
-- The body and header come from the environment (set by bench/harness.py):
--   BENCH_BODY  the JSON request body
--   BENCH_AUTH  the Authorization header value
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
