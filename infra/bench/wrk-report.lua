-- wrk script for figure 4: each connection goes round the paths given after `--`, and the run ends with
-- one line of JSON the bench reads (latencies in ms).
local paths = {}
local next_path = 0

function init(args)
  for _, path in ipairs(args) do paths[#paths + 1] = path end
end

function request()
  next_path = next_path % #paths + 1
  return wrk.format("GET", paths[next_path])
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests":%d,"requestsPerSecond":%f,"p50":%f,"p99":%f,"non2xx":%d,"errors":%d,"timeouts":%d}\n',
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    errors.status, errors.connect + errors.read + errors.write, errors.timeout))
end
