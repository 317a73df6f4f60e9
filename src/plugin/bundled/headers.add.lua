-- headers.add: adds one header field to every message, and refuses a message that has
-- no From: field or more than one (RFC 5322 3.6 asks for exactly one).
--
-- Settings (etc/plugins.d/headers.add.yaml):
--   name: 'X-Received-By'             # the field's name (default X-Haineko-Queue-Id)
--   value: '%{queue_id} from %{remote_ip}'
--   check_from: true                  # false: add the field, never refuse
--
-- The value may name: %{queue_id}, %{remote_ip}, %{remote_host}, %{helo}, %{mode},
-- %{user}, %{mail_from}, %{date} (UTC, RFC 3339). An unknown name expands to nothing.
local P = {}

function P.register()
  local c = P.config
  P.field = c.name or "X-Haineko-Queue-Id"
  P.template = c.value or "%{queue_id}"
  if type(P.field) ~= "string" or not P.field:match("^[!-9;-~]+$") then
    error("name must be a header field name")
  end
  if type(P.template) ~= "string" or P.template:find("[\r\n]") then
    error("value must be a string on one line")
  end
  P.check_from = c.check_from ~= false
end

local function expand(template, conn, txn)
  local values = {
    queue_id = txn.id or "",
    remote_ip = conn.remote.ip or "",
    remote_host = conn.remote.host or "",
    helo = conn.hello and conn.hello.host or "",
    mode = conn.listener.mode or "",
    user = conn.user or "",
    mail_from = txn.mail_from and txn.mail_from.address or "",
    date = os.date("!%Y-%m-%dT%H:%M:%SZ"),
  }
  -- A client's words go into our header: nothing that could end the line.
  return (template:gsub("%%{([%w_]+)}", function(k) return (tostring(values[k] or ""):gsub("[%c]", "?")) end))
end

function P.hook_data_post(conn, txn)
  if P.check_from then
    local n = #txn.header:get_all("From")
    if n == 0 then return haineko.DENY, "Message refused: it has no From: field", 550, "5.6.0" end
    if n > 1 then return haineko.DENY, "Message refused: it has " .. n .. " From: fields", 550, "5.6.0" end
  end
  txn.header:add(P.field, expand(P.template, conn, txn))
end

return P
