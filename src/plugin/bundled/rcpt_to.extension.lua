-- rcpt_to.extension: qmail-style extended addresses. Mail for user-anything@domain is
-- taken and delivered as user@domain (Haraka's manual shows the same idea).
--
-- Settings (etc/plugins.d/rcpt_to.extension.yaml):
--   separator: '-'     # what joins the user and the extension ("+" for Postfix style)
local P = {}

function P.register()
  local sep = P.config.separator or "-"
  if type(sep) ~= "string" or #sep ~= 1 or sep == "@" then
    error("separator must be one character other than '@'")
  end
  P.separator = sep
end

-- user-ext@domain -> user@domain; nil when the address has no extension.
local function base_address(address, sep)
  local at = address:find("@[^@]*$")
  if not at then return nil end
  local localpart, domain = address:sub(1, at - 1), address:sub(at)
  local cut = localpart:find(sep, 1, true)
  if not cut or cut == 1 then return nil end  -- "-foo@" stays: there is no user before it
  return localpart:sub(1, cut - 1) .. domain
end

function P.hook_rcpt(conn, txn, rcpt)
  local base = base_address(rcpt.address, P.separator)
  if base then
    txn.notes.extension = txn.notes.extension or {}
    txn.notes.extension[base] = rcpt.address
    rcpt.address = base  -- routes and the recipients check follow the rewritten address
  end
  return haineko.CONT
end

return P
