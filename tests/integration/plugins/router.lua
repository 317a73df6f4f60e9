-- A test plugin for the delivery hooks: get_route sends a recipient elsewhere by its
-- local part (or by the message's X-Tenant), and delivered, deferred and bounce write
-- what they saw to the log, where test_plugins.py reads it.
local P = {}

function P.hook_get_route(msg, rcpt)
  if rcpt:match("^named@") then return "elsewhere" end
  if rcpt:match("^table@") then return { mailer = "File", path = "outbox-table" } end
  if rcpt:match("^broken@") then return { mailer = "File", port = "not a port" } end
  if rcpt:match("^bounce@") then return { mailer = "NoSuchMailer" } end
  if rcpt:match("^later@") then return { mailer = "ESMTP", host = "127.0.0.1", port = 1, timeout = 5 } end
  local tenant = msg.header:get("X-Tenant")
  if tenant then return { mailer = "File", path = "outbox-" .. tenant } end
  return nil
end

local function note(kind, msg, rcpt, reply)
  haineko.log.info(table.concat({ "router", kind, rcpt, "attempts=" .. msg.attempts, "mailer=" .. msg.route.mailer,
    "code=" .. tostring(reply.code), math.type(reply.code), "from=" .. msg.mail_from }, " "))
end

function P.hook_delivered(msg, rcpt, reply) note("delivered", msg, rcpt, reply) end
function P.hook_deferred(msg, rcpt, reply) note("deferred", msg, rcpt, reply) end
function P.hook_bounce(msg, rcpt, reply) note("bounce", msg, rcpt, reply) end

return P
