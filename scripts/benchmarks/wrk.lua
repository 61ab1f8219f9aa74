-- Requests for `make bench` (scripts/benchmarks/api.py). Arguments after `--`:
--   mode path token ids_file body tag threads
-- mode: get | create | update | delete | invite | login. `get`, `update` and `delete` append an id
-- from ids_file to path (random for get/update, each id once in order for delete); create and
-- invite make a unique host or address per request from tag, thread and a counter.
-- An argument "-" means none (wrk drops empty ones). Prints one JSON line with the figures when done.

-- setup() runs in wrk's main Lua state; each thread has a state of its own, so the thread's
-- number is handed over with thread:set and the thread count comes as an argument.
local created = 0

function setup(thread)
  created = created + 1
  thread:set("thread_id", created)
end

function init(args)
  local function arg(i) if args[i] == "-" then return "" end return args[i] end
  mode, path, token, ids_file, body, tag = arg(1), arg(2), arg(3), arg(4), arg(5), arg(6)
  thread_count = tonumber(arg(7)) or 1
  counter = 0
  ids = {}
  if ids_file ~= nil and ids_file ~= "" then
    for line in io.lines(ids_file) do
      if line ~= "" then ids[#ids + 1] = line end
    end
  end
  math.randomseed(os.time() + thread_id * 7919)
  headers = {}
  if token ~= nil and token ~= "" then headers["Authorization"] = "Bearer " .. token end
end

local function with_id(random_pick)
  if #ids == 0 then return path end
  if random_pick then return path .. ids[math.random(#ids)] end
  -- Each thread takes every thread_count-th id, so no id is used twice.
  local index = (counter - 1) * thread_count + thread_id
  return path .. ids[((index - 1) % #ids) + 1]
end

function request()
  counter = counter + 1
  if mode == "get" then
    return wrk.format("GET", with_id(true), headers)
  elseif mode == "update" then
    headers["Content-Type"] = "application/json"
    return wrk.format("PATCH", with_id(true), headers, '{"name": "Renamed ' .. counter .. '"}')
  elseif mode == "delete" then
    return wrk.format("DELETE", with_id(false), headers)
  elseif mode == "create" then
    headers["Content-Type"] = "application/json"
    local host = tag .. "-" .. thread_id .. "-" .. counter .. ".new.bench.example"
    return wrk.format("POST", path, headers,
      '{"name": "Bench ' .. counter .. '", "url": "https://' .. host .. '/"}')
  elseif mode == "invite" then
    headers["Content-Type"] = "application/json"
    local email = "inv-" .. tag .. "-" .. thread_id .. "-" .. counter .. "@bench.example"
    return wrk.format("POST", path, headers, '{"email": "' .. email .. '", "role": "user"}')
  elseif mode == "login" then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return wrk.format("POST", path, headers, body)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
