-- wrk script for bench/run.sh: drives one documented operation over BENCH_KEYS record
-- keys spread across the accounts whose bearer tokens are in BENCH_TOKENS (one JWT a
-- line), and checks every response: HTTP 200, no "errors", and the expected start of
-- "data". BENCH_MODE picks the operation:
--   save       the save mutation (connection c1)
--   read       the read-back query IPackInstanceOAuthConnectorDetails (c1)
--   list       the list query iPackInstanceOauthConnectorDetailsList of the key's
--              integration pack instance
--   token      the runtime's iPackInstanceOauthAccessToken (c2; the tokens must carry
--              oauth.token.read)
--   tokensave  seeding: saves c2 with details whose accessTokenURL is BENCH_IDP_URL and a
--              real client secret
--   generate   seeding: a client-credentials token for c2 (from BENCH_IDP_URL)
-- done() prints one machine-readable RESULT line that run.sh parses.

local mode = os.getenv("BENCH_MODE") or "save"
local nkeys = tonumber(os.getenv("BENCH_KEYS") or "4096")
local space = os.getenv("BENCH_SPACE") or "bench-space"
local idp_url = os.getenv("BENCH_IDP_URL") or "http://127.0.0.1:18081/token"
-- 1: thread i of BENCH_THREADS walks keys i, i + BENCH_THREADS, … (seeding: every key is
-- written once nkeys requests are made), else random keys.
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
local queries = {
   save = save_query,
   tokensave = save_query,
   read = "query Read($input: IPackInstanceOauthConnectorKeyInput!) "
      .. "{ IPackInstanceOAuthConnectorDetails(input: $input) { " .. fields .. " } }",
   list = "query List($ipack: String!) "
      .. "{ iPackInstanceOauthConnectorDetailsList(integrationPackInstanceId: $ipack) { "
      .. fields .. " } }",
   token = "query Token($input: IPackInstanceOauthConnectorKeyInput!) "
      .. "{ iPackInstanceOauthAccessToken(input: $input) { accessToken tokenType expiresAt } }",
   generate = "mutation Generate($input: IPackInstanceOauthGenerateTokenInput!) "
      .. "{ generateIPackInstanceOauthAccessToken(input: $input) { status } }",
}
local expects = {
   save = '{"data":{"saveIPackInstanceOauthConnectorDetails":{"id":"',
   tokensave = '{"data":{"saveIPackInstanceOauthConnectorDetails":{"id":"',
   read = '{"data":{"IPackInstanceOAuthConnectorDetails":{"id":"',
   list = '{"data":{"iPackInstanceOauthConnectorDetailsList":[{"id":"',
   token = '{"data":{"iPackInstanceOauthAccessToken":{"accessToken":"',
   generate = '{"data":{"generateIPackInstanceOauthAccessToken":{"status":"GENERATED"',
}
local query = queries[mode]
local expect = expects[mode]
if query == nil then error("unknown BENCH_MODE " .. mode) end

-- BENCH_CLIENT_SECRET set (bench/scale.sh): every save sends a real client secret,
-- sealed by the server; else "dummyValue", which keeps what the vault holds (none).
local client_secret = os.getenv("BENCH_CLIENT_SECRET")
local function secret(k)
   if client_secret then return client_secret .. "-" .. k end
   return "dummyValue"
end

-- Key k belongs to account k % naccounts; the same mapping as bench/*.sql.
local function body(k)
   local connection = (mode == "save" or mode == "read") and "c1" or "c2"
   local key = string.format(
      '"integrationPackInstanceId":"ipack-%d","processId":"p1","envId":"e1",'
         .. '"connectionId":"%s","catalogGuid":"%s"', k, connection, space)
   if mode == "save" then
      -- One client id for every key: the token-settings fingerprint and the secret
      -- binding are then the same on every record, and bench/save.sql writes them as
      -- the server does (-D fp=… -D binding=…).
      return string.format(
         '{"query":"%s","variables":{"input":{%s,"isTokenGenerated":false,'
            .. '"oauthConnectorDetails":"{\\"baseURL\\":\\"https://idp.example.com\\",'
            .. '\\"clientId\\":\\"bench-client\\"}","clientId":"bench-client",'
            .. '"clientSecret":"%s"}}}', query, key, secret(k))
   elseif mode == "tokensave" then
      return string.format(
         '{"query":"%s","variables":{"input":{%s,"isTokenGenerated":false,'
            .. '"oauthConnectorDetails":"{\\"accessTokenURL\\":\\"%s\\",'
            .. '\\"clientId\\":\\"client-%d\\"}","clientId":"client-%d",'
            .. '"clientSecret":"bench-client-secret-%d"}}}', query, key, idp_url, k, k, k)
   elseif mode == "generate" then
      return string.format(
         '{"query":"%s","variables":{"input":{%s,"grantType":"CLIENT_CREDENTIALS"}}}', query, key)
   elseif mode == "list" then
      return string.format('{"query":"%s","variables":{"ipack":"ipack-%d"}}', query, k)
   end
   return string.format('{"query":"%s","variables":{"input":{%s}}}', query, key)
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
   cursor = id
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
      cursor = cursor + nthreads
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
