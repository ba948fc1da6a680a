-- wrk script for scripts/bench: GET requests round-robin over a file of `<path> <token>` lines
-- (one per tenant, written by bench/setup.py tokens), each sent with `Authorization: JWT <token>`.
--
--   BENCH_PAIRS=pairs.txt wrk -t1 -c32 -d20s --latency -s bench/tokens.lua http://127.0.0.1:PORT
--
-- Every request is pre-formatted once in init(), so request() only picks the next string: the
-- client spends its CPU on sockets, not on Lua. Every answer that is not 200 is counted (with
-- its status and the first such body) in response(); done() prints one machine-readable
-- `BENCH {json}` line that bench/measure.py reads (latencies in microseconds).

local pairs_file = os.getenv("BENCH_PAIRS")
local threads = {}
local next_thread_id = 0

function setup(thread)
  thread:set("thread_id", next_thread_id)
  next_thread_id = next_thread_id + 1
  table.insert(threads, thread)
end

-- Per-thread state (each wrk thread has its own Lua state).
local reqs = {}
local index = 0
non200 = 0
responses = 0
statuses = ""
first_error = ""
local status_counts = {}

function init(args)
  if not pairs_file then
    error("BENCH_PAIRS is not set")
  end
  for line in io.lines(pairs_file) do
    local path, token = line:match("^(%S+)%s+(%S+)$")
    if path then
      reqs[#reqs + 1] = wrk.format("GET", path, { ["Authorization"] = "JWT " .. token, ["Accept"] = "application/json" })
    end
  end
  if #reqs == 0 then
    error("no `<path> <token>` lines in " .. pairs_file)
  end
  -- Threads start at different tenants so they do not walk the list in step.
  index = ((thread_id or 0) * 37) % #reqs
end

function request()
  index = index % #reqs + 1
  return reqs[index]
end

function response(status, headers, body)
  responses = responses + 1
  if status ~= 200 then
    non200 = non200 + 1
    status_counts[status] = (status_counts[status] or 0) + 1
    local parts = {}
    for s, n in pairs(status_counts) do
      parts[#parts + 1] = string.format('"%d":%d', s, n)
    end
    statuses = table.concat(parts, ",")
    if first_error == "" then
      first_error = tostring(status) .. " " .. string.sub(body or "", 1, 200)
    end
  end
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

function done(summary, latency, requests)
  local bad, answered, status_list, first = 0, 0, {}, ""
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non200")
    answered = answered + thread:get("responses")
    local s = thread:get("statuses")
    if s ~= "" then status_list[#status_list + 1] = "{" .. s .. "}" end
    if first == "" then first = thread:get("first_error") end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"responses":%d,"durationUs":%d,"bytes":%d,' ..
    '"non200":%d,"non200ByStatus":[%s],"firstError":%s,' ..
    '"socketErrors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},' ..
    '"latencyUs":{"mean":%.1f,"stdev":%.1f,"min":%d,"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}}\n',
    summary.requests, answered, summary.duration, summary.bytes,
    bad, table.concat(status_list, ","), json_string(first),
    e.connect, e.read, e.write, e.timeout, e.status,
    latency.mean, latency.stdev, latency.min,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max))
end
