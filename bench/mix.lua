-- wrk script for the memory check's mix: every connection cycles through four requests,
-- two whole answers, one stream, one refusal, so the mix holds by count whatever each
-- kind costs. Bodies and the key come from the environment (set by bench/mix.py):
--   BENCH_WHOLE, BENCH_STREAM, BENCH_REFUSED   the three JSON bodies
--   BENCH_AUTH                                 the Authorization header value
local whole = os.getenv("BENCH_WHOLE")
local stream = os.getenv("BENCH_STREAM")
local refused = os.getenv("BENCH_REFUSED")
local auth = os.getenv("BENCH_AUTH")
local plain = { ["Content-Type"] = "application/json", ["Authorization"] = auth }
local streaming = {
  ["Content-Type"] = "application/json", ["Authorization"] = auth, ["x-bench-stream"] = "1"
}
local n = 0

request = function()
  n = n + 1
  local turn = n % 4
  if turn == 2 then
    return wrk.format("POST", nil, streaming, stream)
  elseif turn == 3 then
    return wrk.format("POST", nil, plain, refused)
  end
  return wrk.format("POST", nil, plain, whole)
end
