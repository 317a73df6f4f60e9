-- log.reader: writes one JSON line per transaction, with every plugin's answer to it, to the
-- file its settings name. A transaction ends when it is queued, relayed (/submit), refused
-- after its data, discarded, reset (RSET, a new MAIL, a new EHLO) or cut by the disconnect;
-- the line is written at the session's next hook (hook_reset_transaction), off the loop.
--
-- Settings (etc/plugins.d/log.reader.yaml):
--   output: 'log/transactions.jsonl'   # the file (relative to the root); the host opens it
--
-- A line: {"time":..., "queue_id":..., "outcome":"queued", "client":{"ip":..., "helo":...,
-- "mode":..., "user":...}, "mail_from":..., "rcpt_to":[...], "results":[{"plugin":...,
-- "hook":"rcpt", "answer":"ok", "text":...}, ...]}
local P = {}

local escapes = { ['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }

local function quote(s)
  return '"' .. tostring(s):gsub('[%c"\\]', function(c)
    return escapes[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

-- A table marked as an array encodes as one, even empty; other tables are objects.
local ARRAY = {}
local function array(t) return setmetatable(t, ARRAY) end

-- Just what a line holds: strings, numbers, booleans, arrays and string-keyed objects.
local function encode(v)
  local t = type(v)
  if t == "nil" then return "null" end
  if t == "boolean" or t == "number" then return tostring(v) end
  if t ~= "table" then return quote(v) end
  local out = {}
  if getmetatable(v) == ARRAY then
    for i, item in ipairs(v) do out[i] = encode(item) end
    return "[" .. table.concat(out, ",") .. "]"
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)  -- a stable order, so lines compare
  for i, k in ipairs(keys) do out[i] = quote(k) .. ":" .. encode(v[k]) end
  return "{" .. table.concat(out, ",") .. "}"
end
P.encode = encode

function P.hook_reset_transaction(conn, txn)
  local rcpts = array({})
  for _, r in ipairs(txn.rcpt_to or {}) do rcpts[#rcpts + 1] = r.address end
  local results = array({})
  for _, r in ipairs(txn.results or {}) do
    results[#results + 1] = { plugin = r.plugin, hook = r.hook, answer = r.answer,
                              text = r.text ~= "" and r.text or nil }
  end
  haineko.output(encode({
    time = os.date("!%Y-%m-%dT%H:%M:%SZ"),
    queue_id = txn.id,
    outcome = txn.outcome,
    client = { ip = conn.remote.ip, helo = conn.hello and conn.hello.host or nil, mode = conn.listener.mode,
               user = conn.user },
    mail_from = txn.mail_from and txn.mail_from.address or nil,
    rcpt_to = rcpts,
    results = results,
  }))
end

return P
