-- The objects a hook sees (spec/plugins.md, "What a hook sees") and the sandbox each
-- plugin runs in, made by the host (plugin/host.cpp) in every Lua state before any
-- plugin loads. It runs with the full standard library; plugins never see this chunk's
-- environment, only what H.environment copies out of it.
local H = {}

local load, pairs, ipairs, type, tostring, error, setmetatable, select =
  load, pairs, ipairs, type, tostring, error, setmetatable, select
local concat, insert, remove = table.concat, table.insert, table.remove
local lower, find, gsub, sub = string.lower, string.find, string.gsub, string.sub

-- A copy of the allowed globals, two levels deep, so that a plugin that changes
-- `string.upper` or `haineko.DENY` changes them for itself alone.
local function copy(t, depth)
  local out = {}
  for k, v in pairs(t) do
    out[k] = (type(v) == "table" and depth > 0) and copy(v, depth - 1) or v
  end
  return out
end

-- base: the allowed globals; read_module(name) returns a module's text and chunk name,
-- or nil and why.
function H.environment(base, read_module)
  local env = copy(base, 2)
  env._G = env
  -- Text chunks only: bytecode can break the VM's invariants.
  env.load = function(chunk, name, _, chunk_env)
    return load(chunk, name, "t", chunk_env or env)
  end
  local loaded = {}
  env.require = function(name)
    if type(name) ~= "string" then error("require: a module name is a string", 2) end
    if loaded[name] ~= nil then return loaded[name] end
    local text, chunkname = read_module(name)
    if not text then error(chunkname, 2) end
    local fn, why = load(text, chunkname, "t", env)
    if not fn then error(why, 2) end
    local value = fn(name)
    if value == nil then value = true end
    loaded[name] = value
    return value
  end
  env.print = function(...)
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
    env.haineko.log.info(concat(parts, "\t"))
  end
  return env
end

-- conn -------------------------------------------------------------------------------

function H.conn(id, remote_ip, remote_port, remote_host, local_ip, local_port, mode, address)
  return {
    id = id,
    remote = { ip = remote_ip, port = remote_port, host = remote_host },
    ["local"] = { ip = local_ip, port = local_port },
    listener = { mode = mode, address = address },
    notes = {},
  }
end

function H.hello(conn, verb, host) conn.hello = { verb = verb, host = host } end
function H.tls(conn, version, cipher) conn.tls = { version = version, cipher = cipher } end
function H.user(conn, user) conn.user = user end

-- the header ---------------------------------------------------------------------------

local Header = {}
Header.__index = Header

local function unfold(v)
  v = gsub(v, "\r?\n[ \t]+", " ")
  v = gsub(v, "^[ \t]+", "")
  return (gsub(v, "[ \t\r\n]+$", ""))
end

local function check_field(name, value, where)
  if type(name) ~= "string" or not find(name, "^[!-9;-~]+$") then
    error(where .. ": a header name is printable ASCII without ':' or spaces", 3)
  end
  if type(value) ~= "string" then error(where .. ": a header value is a string", 3) end
  if find(value, "[\r\n%z]") then error(where .. ": a header value holds no line break or NUL", 3) end
  if #name + #value > 996 then error(where .. ": a header line is at most 998 octets", 3) end
end

-- fields: an array of {name, value, raw}; raw is the field as it came, kept while the
-- field is untouched so that its bytes (and a signature over them) stay as they were.
function H.header(fields)
  return setmetatable({ fields = fields, changed = false, edits = 0 }, Header)
end

function Header:get(name)
  local want = lower(name)
  for _, f in ipairs(self.fields) do
    if lower(f[1]) == want then return unfold(f[2]) end
  end
  return nil
end

function Header:get_all(name)
  local want, out = lower(name), {}
  for _, f in ipairs(self.fields) do
    if lower(f[1]) == want then out[#out + 1] = unfold(f[2]) end
  end
  return out
end

function Header:add(name, value)
  check_field(name, value, "header:add")
  self.fields[#self.fields + 1] = { name, " " .. value }
  self.changed, self.edits = true, self.edits + 1
end

function Header:insert(name, value)
  check_field(name, value, "header:insert")
  insert(self.fields, 1, { name, " " .. value })
  self.changed, self.edits = true, self.edits + 1
end

function Header:change(name, value, n)
  check_field(name, value, "header:change")
  local want, seen = lower(name), 0
  n = n or 1
  for _, f in ipairs(self.fields) do
    if lower(f[1]) == want then
      seen = seen + 1
      if seen == n then
        f[2], f[3] = " " .. value, nil
        self.changed, self.edits = true, self.edits + 1
        return true
      end
    end
  end
  return false
end

function Header:remove(name)
  local want = lower(name)
  for i = #self.fields, 1, -1 do
    if lower(self.fields[i][1]) == want then
      remove(self.fields, i)
      self.changed, self.edits = true, self.edits + 1
    end
  end
end

local function header_text(h)
  local out = {}
  for i, f in ipairs(h.fields) do out[i] = f[3] or (f[1] .. ":" .. f[2] .. "\r\n") end
  return concat(out)
end

-- msg, for the delivery hooks: read-only (its header has get and get_all only).
local ReadOnlyHeader = { get = Header.get, get_all = Header.get_all }
ReadOnlyHeader.__index = ReadOnlyHeader

function H.msg(id, mail_from, fields, attempts, mailer, host, port)
  return {
    id = id, mail_from = mail_from, attempts = attempts,
    header = setmetatable({ fields = fields }, ReadOnlyHeader),
    route = { mailer = mailer, host = host, port = port },
  }
end

function H.reply(code, dsn, text, host) return { code = code, dsn = dsn, text = text, host = host } end

-- the transaction ------------------------------------------------------------------------

local Txn = {}
Txn.__index = Txn

function H.address(address, params) return { address = address, params = params } end

function H.txn(id, sender)
  return setmetatable({ id = id, mail_from = sender, rcpt_to = {}, notes = {}, _edits = 0 }, Txn)
end

function H.accept_rcpt(txn, rcpt) txn.rcpt_to[#txn.rcpt_to + 1] = rcpt end

-- /submit relays each recipient's own copy as its own transaction.
function H.only_rcpt(txn, address)
  for _, r in ipairs(txn.rcpt_to) do
    if r.address == address then txn.rcpt_to = { r } return end
  end
  txn.rcpt_to = { { address = address, params = {} } }
end

function H.message(txn, fields, body, size)
  txn.header = H.header(fields)
  txn.body = body
  txn.size = size
  txn._body = body
end

function Txn:add_rcpt(address)
  if type(address) ~= "string" then error("txn:add_rcpt: an address is a string", 2) end
  self.rcpt_to[#self.rcpt_to + 1] = { address = address, params = {} }
  self._edits = self._edits + 1
end

function Txn:remove_rcpt(address)
  for i = #self.rcpt_to, 1, -1 do
    if self.rcpt_to[i].address == address then
      remove(self.rcpt_to, i)
      self._edits = self._edits + 1
    end
  end
end

function Txn:set_body(s)
  if type(s) ~= "string" then error("txn:set_body: the body is a string", 2) end
  self.body = s
  self._edits = self._edits + 1
end

function Txn:hold(reason)
  self._hold = tostring(reason or "held by a plugin")
end

-- A summary of what a hook may change, to tell which plugin changed something.
function H.signature(txn)
  local parts = { tostring(txn._edits), txn.header and tostring(txn.header.edits) or "-",
                  txn.mail_from and tostring(txn.mail_from.address) or "" }
  for _, r in ipairs(txn.rcpt_to) do parts[#parts + 1] = tostring(r.address) end
  return concat(parts, "\0")
end

function H.held(txn) return txn._hold or "" end

-- What the hooks left: the sender, the recipients, the header (nil when untouched), the
-- body (nil when untouched) and the hold's reason (nil when none).
function H.export(txn)
  local rcpts = {}
  for i, r in ipairs(txn.rcpt_to) do rcpts[i] = tostring(r.address) end
  local sender = txn.mail_from and tostring(txn.mail_from.address) or ""
  local header = (txn.header and txn.header.changed) and header_text(txn.header) or nil
  local body = nil
  if txn.body ~= txn._body then body = tostring(txn.body) end
  return sender, rcpts, header, body, txn._hold
end

return H
