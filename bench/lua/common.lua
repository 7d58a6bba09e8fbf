-- Shared by every wrk scenario script (each one loads it with dofile):
-- the bearer token, per-thread random seeds, a count of responses by
-- status, and one machine-readable summary line printed by done().
--
-- Environment (bench/run.sh sets it):
--   BENCH_TOKEN     access token of the bench user (required)
--   BENCH_SCENARIO  name printed in the summary line
--   BENCH_PREFIX    API prefix, default /api/v1
--   BENCH_ID_BASE, BENCH_ID_STRIDE, BENCH_ID_COUNT
--                   the bench user's todo ids are BASE + STRIDE * k for
--                   k in [0, COUNT) (see bench/seed.sql)
--
-- The summary line, on stdout, is:
--   BENCH scenario=get requests=123 duration_s=10.002 rps=12.30 p50_ms=1.234
--         p90_ms=... p99_ms=... max_ms=... non2xx=0 sock_errors=0 statuses=200:123
-- sock_errors adds wrk's connect, read, write and timeout errors.

token = os.getenv("BENCH_TOKEN")
if token == nil or token == "" then
  error("BENCH_TOKEN is not set: log in and export the access token")
end
scenario = os.getenv("BENCH_SCENARIO") or "unnamed"
prefix = os.getenv("BENCH_PREFIX") or "/api/v1"
id_base = tonumber(os.getenv("BENCH_ID_BASE") or "1")
id_stride = tonumber(os.getenv("BENCH_ID_STRIDE") or "1")
id_count = tonumber(os.getenv("BENCH_ID_COUNT") or "1")

wrk.headers["Authorization"] = "Bearer " .. token

-- Header tables for wrk.format (which replaces wrk.headers, not merges).
get_headers = { ["Authorization"] = "Bearer " .. token }
json_headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }

-- random_id returns one of the bench user's todo ids, uniformly.
function random_id()
  return id_base + id_stride * math.random(0, id_count - 1)
end

local verbs = { "Buy", "Call about the", "Email", "Fix", "Review", "Book", "Pay", "Sort out",
  "Prepare", "Check", "Renew", "Pick up", "Finish", "Organise", "Return", "Print" }
local nouns = { "invoice", "groceries", "dentist appointment", "quarterly report", "car service",
  "concert tickets", "laundry", "garden hose", "passport", "slides", "budget", "birthday present" }
local details = { "before Friday", "this week", "after the meeting", "by the end of the month",
  "when back home", "if there is time" }

-- new_todo_body returns the JSON body of a create, with the seed's
-- distribution: 60% with a description, 50% with a due date, 30%
-- completed, priority 0-5.
function new_todo_body()
  local noun = nouns[math.random(#nouns)]
  local parts = { string.format('"title":"%s %s"', verbs[math.random(#verbs)], noun),
    string.format('"priority":%d', math.random(0, 5)) }
  if math.random() < 0.6 then
    parts[#parts + 1] = string.format('"description":"Remember the %s %s."', noun, details[math.random(#details)])
  end
  if math.random() < 0.5 then
    parts[#parts + 1] = string.format('"due_date":"2027-%02d-%02dT%02d:00:00Z"',
      math.random(1, 12), math.random(1, 28), math.random(0, 23))
  end
  if math.random() < 0.3 then
    parts[#parts + 1] = '"completed":true'
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

-- patch_body returns a typical "check it off / re-prioritise" patch,
-- keeping the seed's 30% completed.
function patch_body()
  return string.format('{"completed":%s,"priority":%d}', tostring(math.random() < 0.3), math.random(0, 5))
end

local threads = {}

function setup(thread)
  thread:set("thread_no", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  -- thread_no is set by setup(); os.time() alone would give every thread
  -- the same sequence.
  math.randomseed(os.time() * 1000 + (thread_no or 0) * 7919)
  counts = {}
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total, non2xx = {}, 0
  for _, t in ipairs(threads) do
    local c = t:get("counts") or {}
    for status, n in pairs(c) do
      total[status] = (total[status] or 0) + n
    end
  end
  local keys = {}
  for status, n in pairs(total) do
    keys[#keys + 1] = status
    if status < 200 or status > 299 then
      non2xx = non2xx + n
    end
  end
  table.sort(keys)
  local statuses = {}
  for _, status in ipairs(keys) do
    statuses[#statuses + 1] = string.format("%d:%d", status, total[status])
  end
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "BENCH scenario=%s requests=%d duration_s=%.3f rps=%.2f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f non2xx=%d sock_errors=%d statuses=%s\n",
    scenario, summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, non2xx, e.connect + e.read + e.write + e.timeout,
    #statuses > 0 and table.concat(statuses, ",") or "none"))
end
