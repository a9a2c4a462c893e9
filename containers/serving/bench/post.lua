-- wrk script: POST one body file to /invocations and report a JSON summary on stdout.
-- Usage: wrk -s post.lua URL -- BODY_FILE [CONTENT_TYPE] [ACCEPT]
local body_file, content_type, accept

function init(args)
  body_file = args[1]
  content_type = args[2] or "text/csv"
  accept = args[3] or "text/csv"
  local f = assert(io.open(body_file, "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = content_type
  wrk.headers["Accept"] = accept
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "status_errors": %d, ' ..
    '"timeouts": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
