-- Counts answers per second of wall time, per status class, so
-- bench/takeover.py can tell what was answered while a process handed its
-- sockets over. Each wrk thread counts in its own table; done() sums them.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok = {}
  bad = {}
end

function response(status, headers, body)
  local second = os.time()
  if status >= 200 and status < 400 then
    ok[second] = (ok[second] or 0) + 1
  else
    bad[second] = (bad[second] or 0) + 1
  end
end

function done(summary, latency, requests)
  local ok_all, bad_all = {}, {}
  for _, thread in ipairs(threads) do
    for s, n in pairs(thread:get("ok")) do ok_all[s] = (ok_all[s] or 0) + n end
    for s, n in pairs(thread:get("bad")) do bad_all[s] = (bad_all[s] or 0) + n end
  end
  for s, n in pairs(ok_all) do io.write(string.format("second %d ok %d\n", s, n)) end
  for s, n in pairs(bad_all) do io.write(string.format("second %d bad %d\n", s, n)) end
end
