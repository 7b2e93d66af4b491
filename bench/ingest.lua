-- wrk script for the ingest benchmark: every request is a signed GitHub delivery with its own GUID.
-- The body and its X-Hub-Signature-256 are computed once by the benchmark (the signature covers the
-- body only, not the GUID) and passed in through BENCH_BODY (a file) and BENCH_SIGNATURE.

local handle = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
local body = handle:read("*all")
handle:close()
local signed = os.getenv("BENCH_SIGNATURE")
local event = os.getenv("BENCH_EVENT") or "pull_request"
local run = os.getenv("BENCH_RUN") or "run"

local threads = {}
local counter = 0
local prefix = run

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_number", #threads)
end

function init(args)
  prefix = run .. "-" .. tostring(thread_number) .. "-"
end

function request()
  counter = counter + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["User-Agent"] = "GitHub-Hookshot/bench",
    ["X-GitHub-Event"] = event,
    ["X-GitHub-Delivery"] = prefix .. counter,
    ["X-Hub-Signature-256"] = signed,
  }
  return wrk.format("POST", wrk.path, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,' ..
    '"non_2xx_3xx":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
