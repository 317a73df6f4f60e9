-- route.by_header: picks each recipient's route by the value of one header field, for
-- example a tenant's own relay by X-Tenant.
--
-- Settings (etc/plugins.d/route.by_header.yaml):
--   header: 'X-Tenant'                        # the field (default X-Tenant)
--   routes:                                   # value -> a mailertable entry, or a route
--     blue: 'blue-relay'
--     green: {mailer: 'ESMTP', host: 'green.example.net', port: 587}
--
-- Values compare without case. A message without the field, or with a value that is
-- not listed, keeps the route mailertable gives it.
local P = {}

function P.register()
  local c = P.config
  P.header = c.header or "X-Tenant"
  if type(P.header) ~= "string" or P.header == "" then error("header must be a field name") end
  if type(c.routes) ~= "table" then error("routes must be a mapping of values to routes") end
  P.routes = {}
  for value, route in pairs(c.routes) do
    if type(route) ~= "string" and type(route) ~= "table" then
      error("the route of '" .. tostring(value) .. "' must be a mailertable entry's name or a mapping")
    end
    P.routes[string.lower(tostring(value))] = route
  end
end

function P.hook_get_route(msg, rcpt)
  local value = msg.header:get(P.header)
  if not value then return nil end
  return P.routes[string.lower(value)]
end

return P
