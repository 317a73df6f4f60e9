-- A test plugin for haineko.dns.query: at data_post it asks the names test_plugins.py
-- serves from dnsmasq and writes what it got into X-Dns-* fields. A recipient
-- slowdns@... asks a server that never answers.
local P = {}

local function show(records, err_or_ttl)
  if not records then return "error=" .. tostring(err_or_ttl) end
  table.sort(records)
  return table.concat(records, ",") .. " ttl=" .. tostring(math.type(err_or_ttl))
end

function P.hook_rcpt(conn, txn, rcpt)
  if rcpt.address:match("^slowdns@") then
    local r, err = haineko.dns.query("host.test", "A")
    return haineko.DENY, "answered: " .. tostring(err)
  end
end

function P.hook_data_post(conn, txn)
  local h = txn.header
  h:add("X-Dns-A", show(haineko.dns.query("host.test", "A")))
  h:add("X-Dns-Mx", show(haineko.dns.query("mail.test", "MX")))
  h:add("X-Dns-Txt", show(haineko.dns.query("txt.test", "TXT")))
  h:add("X-Dns-Ptr", show(haineko.dns.query("127.0.0.9", "PTR")))
  h:add("X-Dns-Missing", show(haineko.dns.query("missing.test", "A")))
  h:add("X-Remote-Host", tostring(conn.remote.host))
end

return P
