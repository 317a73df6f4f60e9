// JSON values (a plugin's settings) as Lua values: objects and arrays as tables (arrays
// from 1), null as nil.
#pragma once
#include <boost/json/value.hpp>
#include <lua.hpp>

namespace haineko::plugin {

void push_json(lua_State* L, const boost::json::value& v);

}  // namespace haineko::plugin
