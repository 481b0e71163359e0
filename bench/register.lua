-- wrk script: each request registers one new backend; addresses are unique
-- per thread (10.<tid>.<hi>.<lo>) so no request collides with another.
local counter = 0
local started = 0

-- Runs in the main state; `tid` becomes a global of each thread's state.
function setup(thread)
  started = started + 1
  thread:set("tid", started)
end

-- args: a comma-separated list of registration paths (one per listener),
-- the project token, and optionally an offset added to the thread ids (so
-- several wrk processes, one per node, never send the same address).
-- Requests rotate over the listeners.
function init(args)
  paths = {}
  for p in string.gmatch(args[1], "[^,]+") do
    table.insert(paths, p)
  end
  token = args[2]
  tid = tid + (tonumber(args[3]) or 0)
end

function request()
  counter = counter + 1
  local hi = math.floor(counter / 250) % 256
  local lo = counter % 250 + 1
  local body = string.format('{"backends":[{"address":"10.%d.%d.%d"}]}', tid, hi, lo)
  local path = paths[counter % #paths + 1]
  return wrk.format("POST", path, {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end

function response(status, headers, body)
  if status ~= 201 then
    io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n")
  end
end
