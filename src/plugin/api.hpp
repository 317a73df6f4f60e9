// The haineko table a plugin sees (spec/plugins.md, "The API"): the answer constants and
// the calls. Each call that waits suspends only its own hook (plugin/call.hpp).
#pragma once
#include <lua.hpp>

namespace haineko::plugin {

// Pushes a new haineko table.
void push_api(lua_State* L);

// The sub-tables, each in a file of its own: haineko.kv (api_kv.cpp).
void push_kv_api(lua_State* L);
void push_dns_api(lua_State* L);  // haineko.dns (api_dns.cpp)
void push_http_api(lua_State* L);  // haineko.http (api_http.cpp)

}  // namespace haineko::plugin
