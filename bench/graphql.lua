-- wrk script for bench/run.sh: drives the documented save mutation (BENCH_MODE=save) or
-- the documented read-back query (BENCH_MODE=read) over BENCH_KEYS record keys spread
-- across the accounts whose bearer tokens are in BENCH_TOKENS (one JWT a line), and
-- checks every response: HTTP 200, no "errors", and the expected field in "data".
-- done() prints one machine-readable RESULT line that run.sh parses.

local mode = os.getenv("BENCH_MODE") or "save"
local nkeys = tonumber(os.getenv("BENCH_KEYS") or "4096")
local space = os.getenv("BENCH_SPACE") or "bench-space"
-- 1: each thread walks the keys in order (seeding: every key gets written), else random.
local sequential = os.getenv("BENCH_SEQUENTIAL") == "1"
-- bench/scale.sh: 1 formats each request when it is sent instead of all BENCH_KEYS up
-- front (a million keys would not fit in memory), at every size alike.
local on_the_fly = os.getenv("BENCH_ON_THE_FLY") == "1"
-- bench/scale.sh's fill: the keys BENCH_FILL_FROM .. BENCH_FILL_TO - 1, thread i of
-- BENCH_THREADS taking every BENCH_THREADS-th from FROM + i; done() prints how far all
-- threads got (FILLED_BELOW), so the next run resumes there.
local fill_to = tonumber(os.getenv("BENCH_FILL_TO") or "-1")
local fill_from = tonumber(os.getenv("BENCH_FILL_FROM") or "0")
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
local nconns = tonumber(os.getenv("BENCH_CONNS") or "64")

local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do
   if #line > 0 then tokens[#tokens + 1] = line end
end
local naccounts = #tokens

local fields = "id integrationPackInstanceId isTokenGenerated oauthConnectorDetails "
   .. "processId envId connectionId catalogGuid"
local save_query = "mutation Save($input: IPackInstanceOauthConnectorDetailsInput!) "
   .. "{ saveIPackInstanceOauthConnectorDetails(input: $input) { " .. fields .. " } }"
local read_query = "query Read($input: IPackInstanceOauthConnectorKeyInput!) "
   .. "{ IPackInstanceOAuthConnectorDetails(input: $input) { " .. fields .. " } }"
local expect = mode == "save"
   and '{"data":{"saveIPackInstanceOauthConnectorDetails":{"id":"'
   or '{"data":{"IPackInstanceOAuthConnectorDetails":{"id":"'

-- BENCH_CLIENT_SECRET set (bench/scale.sh): every save sends a real client secret,
-- sealed by the server; else "dummyValue", which keeps what the vault holds (none).
local client_secret = os.getenv("BENCH_CLIENT_SECRET")
local function secret(k)
   if client_secret then return client_secret .. "-" .. k end
   return "dummyValue"
end

-- Key k belongs to account k % naccounts; the same mapping as bench/save.sql.
local function body(k)
   local key = string.format(
      '"integrationPackInstanceId":"ipack-%d","processId":"p1","envId":"e1",'
         .. '"connectionId":"c1","catalogGuid":"%s"', k, space)
   if mode == "save" then
      -- One client id for every key: the token-settings fingerprint and the secret
      -- binding are then the same on every record, and bench/save.sql writes them as
      -- the server does (-D fp=… -D binding=…).
      return string.format(
         '{"query":"%s","variables":{"input":{%s,"isTokenGenerated":false,'
            .. '"oauthConnectorDetails":"{\\"baseURL\\":\\"https://idp.example.com\\",'
            .. '\\"clientId\\":\\"bench-client\\"}","clientId":"bench-client",'
            .. '"clientSecret":"%s"}}}', save_query, key, secret(k))
   end
   return string.format('{"query":"%s","variables":{"input":{%s}}}', read_query, key)
end

local threads = {}
local next_id = 0
function setup(thread)
   thread:set("id", next_id)
   table.insert(threads, thread)
   next_id = next_id + 1
end

-- Every request is formatted once per thread, here, so the load generator spends its
-- time sending and checking, not building strings.
function init(args)
   responses = 0
   failures = 0
   first_failure = ""
   cursor = id * 7919
   math.randomseed(os.time() + id * 104729)
   requests = {}
   repeats = 0
   if fill_to >= 0 then cursor = fill_from + id end
   if on_the_fly or fill_to >= 0 then return end
   for k = 0, nkeys - 1 do
      requests[k + 1] = format(k)
   end
end

function format(k)
   local headers = {
      ["Content-Type"] = "application/json",
      ["Accept"] = "application/json",
      ["SPACE_GUID"] = space,
      ["Authorization"] = "Bearer " .. tokens[(k % naccounts) + 1],
   }
   return wrk.format("POST", "/graphql", headers, body(k))
end

function request()
   local k
   if fill_to >= 0 then
      -- Past the end, the last key again (an update) until wrk's duration ends.
      k = math.min(cursor, fill_to - 1)
      if cursor < fill_to then cursor = cursor + nthreads else repeats = repeats + 1 end
      return format(k)
   end
   if on_the_fly then
      return format(math.random(0, nkeys - 1))
   end
   if sequential then
      k = cursor % nkeys
      cursor = cursor + 1
   else
      k = math.random(0, nkeys - 1)
   end
   return requests[k + 1]
end

function response(status, headers, body)
   responses = responses + 1
   if status ~= 200 or body:find('"errors"', 1, true)
      or body:sub(1, #expect) ~= expect then
      failures = failures + 1
      if first_failure == "" then first_failure = status .. " " .. body:sub(1, 300) end
   end
end

function done(summary, latency, requests)
   local checked, failed, first = 0, 0, ""
   for _, thread in ipairs(threads) do
      checked = checked + thread:get("responses")
      failed = failed + thread:get("failures")
      local f = thread:get("first_failure")
      if first == "" and f ~= "" then first = f end
   end
   local e = summary.errors
   io.write(string.format(
      "RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d checked=%d failed=%d socket_errors=%d\n",
      summary.requests / (summary.duration / 1e6),
      latency:percentile(50) / 1000, latency:percentile(99) / 1000,
      summary.requests, checked, failed, e.connect + e.read + e.write + e.timeout))
   if first ~= "" then io.write("FIRST_FAILURE " .. first .. "\n") end
   if fill_to >= 0 then
      -- Every key below the slowest thread's cursor was sent, less those possibly still
      -- in flight when wrk stopped (at most one per connection): resume before them. A
      -- thread that sent more repeats of the last key than it has connections has had
      -- every earlier answer.
      local slowest, finished = fill_to, true
      for _, thread in ipairs(threads) do
         slowest = math.min(slowest, thread:get("cursor"))
         finished = finished and thread:get("repeats") > nconns
      end
      local resume = slowest - nthreads * (1 + nconns)
      if finished then resume = fill_to end
      io.write(string.format("FILLED_BELOW %d\n", math.max(fill_from, resume)))
   end
end
