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

-- Key k belongs to account k % naccounts; the same mapping as bench/save.sql.
local function body(k)
   local key = string.format(
      '"integrationPackInstanceId":"ipack-%d","processId":"p1","envId":"e1",'
         .. '"connectionId":"c1","catalogGuid":"%s"', k, space)
   if mode == "save" then
      return string.format(
         '{"query":"%s","variables":{"input":{%s,"isTokenGenerated":false,'
            .. '"oauthConnectorDetails":"{\\"baseURL\\":\\"https://idp.example.com\\",'
            .. '\\"clientId\\":\\"client-%d\\"}","clientId":"client-%d",'
            .. '"clientSecret":"dummyValue"}}}', save_query, key, k, k)
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
   for k = 0, nkeys - 1 do
      local headers = {
         ["Content-Type"] = "application/json",
         ["Accept"] = "application/json",
         ["SPACE_GUID"] = space,
         ["Authorization"] = "Bearer " .. tokens[(k % naccounts) + 1],
      }
      requests[k + 1] = wrk.format("POST", "/graphql", headers, body(k))
   end
end

function request()
   local k
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
end
