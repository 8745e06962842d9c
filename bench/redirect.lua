-- wrk script for bench/run.sh: GET /<key> over a 1M-key set, keep-alive.
--
-- Environment (read once per wrk thread in init):
--   BENCH_KEYFILE   file with one key per line (required)
--   BENCH_DIST      uniform | zipf | seq                       (default uniform)
--                   uniform: every request picks a key uniformly at random.
--                   zipf:    rank r = floor((N+1)^u), u ~ U[0,1): the inverse
--                            of the continuous Zipf(s=1) CDF ln(r)/ln(N+1), so
--                            P(r) = ln((r+1)/r)/ln(N+1) ~ 1/(r ln N). With N=1M
--                            the top key gets ~5% of requests, the top 1000
--                            keys ~50%. Key r is line r of BENCH_KEYS (the keys
--                            are random, so the hot set is a random sample).
--                   seq:     line 1, 2, ..., N once each (walks every key once;
--                            run with -t1), then creates the file BENCH_DONE and
--                            goes on uniformly until wrk is stopped (run.sh
--                            waits for the file, then sends wrk SIGINT, which
--                            makes it print its statistics and exit).
--   BENCH_DELAY_MS  mean inter-request delay per connection in ms (float,
--                   default 0 = none). wrk's delay() takes whole ms, so each
--                   call rounds randomly (floor or ceil) to hit the mean.
--
-- done() also prints "wrk CPU: X s" - wrk's CPU time (all threads) from the end
-- of init() to the end, so run.sh can tell when wrk, not the server, is the limit.

local keys = {}
local n = 0
local dist = "uniform"
local prefix, suffix
local seq_i = 0
local ln_n1 = 0

local random, floor, exp = math.random, math.floor, math.exp

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  local path = os.getenv("BENCH_KEYFILE")
  if not path then
    error("BENCH_KEYFILE not set")
  end
  for line in io.lines(path) do
    n = n + 1
    keys[n] = line
  end
  if n == 0 then
    error("no keys in " .. path)
  end
  dist = os.getenv("BENCH_DIST") or "uniform"
  if dist ~= "uniform" and dist ~= "zipf" and dist ~= "seq" then
    error("BENCH_DIST must be uniform, zipf or seq")
  end
  if dist == "seq" and not os.getenv("BENCH_DONE") then
    error("BENCH_DIST=seq needs BENCH_DONE (marker file path)")
  end
  ln_n1 = math.log(n + 1)
  -- wrk's own request format (Host header etc.) around a placeholder path
  local tpl = wrk.format("GET", "/@KEY@")
  local a, b = tpl:find("@KEY@", 1, true)
  prefix, suffix = tpl:sub(1, a - 1), tpl:sub(b + 1)
  math.randomseed(os.time() + floor(os.clock() * 1e6))
  cpu_after_init = os.clock() -- global: done() reads it through thread:get
end

function done(summary, latency, requests)
  local start = 0
  for _, t in ipairs(threads) do
    start = math.max(start, t:get("cpu_after_init") or 0)
  end
  io.write(string.format("wrk CPU: %.3f s\n", os.clock() - start))
end

function request()
  local i
  if dist == "uniform" then
    i = random(n)
  elseif dist == "zipf" then
    i = floor(exp(random() * ln_n1))
    if i > n then i = n elseif i < 1 then i = 1 end
  elseif seq_i < n then
    seq_i = seq_i + 1
    i = seq_i
  else
    if seq_i == n then
      seq_i = n + 1
      local f = assert(io.open(os.getenv("BENCH_DONE") or "/dev/null", "w"))
      f:write(n, "\n")
      f:close()
    end
    i = random(n)
  end
  return prefix .. keys[i] .. suffix
end

local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0") or 0
if delay_ms > 0 then
  local whole = floor(delay_ms)
  local frac = delay_ms - whole
  function delay()
    if random() < frac then
      return whole + 1
    end
    return whole
  end
end
