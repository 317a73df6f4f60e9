-- A test plugin whose answers follow the addresses and the Subject it is given, as the
-- test milter's follow the Subject (tests/tools/test_milter.c). Each branch is one case
-- of test_plugins.py.
local P = {}

function P.hook_connect(conn)
  conn.notes.connected = conn.remote.ip
  conn.notes.mode = conn.listener.mode
end

function P.hook_ehlo(conn, name)
  if name == "deny.example" then return haineko.DENY, "no such hello" end
  if name == "bye.example" then return haineko.DENYDISCONNECT, "go away" end
end

function P.hook_mail(conn, txn, sender)
  local a = sender.address
  if a:match("^deny@") then return haineko.DENY, "sender refused", 553, "5.7.1" end
  if a:match("^soft@") then return haineko.DENYSOFT end
  if a:match("^rewrite@") then sender.address = "rewritten@example.org" end
  txn.notes.mail_seen = "yes"
end

function P.hook_rcpt(conn, txn, rcpt)
  local a = rcpt.address
  if a:match("^deny@") then return haineko.DENY end
  if a:match("^soft@") then return haineko.DENYSOFT, "later please" end
  if a:match("^bye@") then return haineko.DENYDISCONNECT, "bye now" end
  if a:match("@ok%.example$") then return haineko.OK, "taken by probe" end
  if a:match("^redirect@") then rcpt.address = "moved@example.jp" end
  if a:match("^badrewrite@") then rcpt.address = "not an address" end
  if a:match("^loop@") then while true do end end
  if a:match("^pcall%-loop@") then while true do pcall(function() while true do end end) end end
  if a:match("^raise@") then error("boom") end
  if a:match("^notanswer@") then return "yes" end
  if a:match("^eat@") then
    local t, i = {}, 0
    while true do i = i + 1; t[i] = string.rep("x", 4096) .. i end
  end
  local nap = a:match("^nap(%d+)@")
  if nap then
    haineko.log.info("probe naps " .. nap .. " ms")  -- the test waits for this line
    haineko.sleep(tonumber(nap))
  end
  if a:match("^kv@") or a:match("^kv%-") then
    local n = haineko.kv.incr("probe:" .. a, 1, 60)
    haineko.kv.set("probe:last", "n=" .. n)
    if haineko.kv.get("probe:last") ~= "n=" .. n then error("kv.get does not see kv.set") end
    haineko.kv.del("probe:last")
    if haineko.kv.get("probe:last") ~= nil then error("kv.del did not delete") end
    if n > 2 then return haineko.DENYSOFT, "seen " .. n .. " times" end
  end
  if a:match("^count@") then haineko.metrics.incr("probe_counted", { kind = "rcpt" }) end
end

function P.hook_data(conn, txn)
  if txn.mail_from.address == "nodata@example.org" then return haineko.DENY, "no data for you" end
end

function P.hook_data_post(conn, txn)
  local subject = txn.header:get("Subject") or ""
  if subject == "deny" then return haineko.DENY, "content refused" end
  if subject == "hold" then txn:hold("held by probe") end
  if subject == "body" then txn:set_body("replaced body\r\n") end
  if subject == "addrcpt" then txn:add_rcpt("added@example.jp") end
  if subject == "badheader" then txn.header:add("X-Bad", "a\r\nBcc: evil@example.org") end
  txn.header:remove("X-Remove-Me")
  txn.header:add("X-Probe", "connect=" .. tostring(conn.notes.connected) .. " mode=" .. tostring(conn.notes.mode) ..
    " mail=" .. tostring(txn.notes.mail_seen) .. " id=" .. tostring(txn.id) .. " size=" .. tostring(txn.size))
  txn.notes.data_post = "done"
end

function P.hook_queue(conn, txn)
  txn.header:add("X-Probe-Queue", tostring(txn.notes.data_post))
  if (txn.header:get("Subject") or "") == "queue-later" then return haineko.DENYSOFT, "queue says later" end
end

return P
