#include "plugin/to_lua.hpp"

namespace haineko::plugin {

void push_json(lua_State* L, const boost::json::value& v) {
    luaL_checkstack(L, 4, "the settings nest too deep");
    switch (v.kind()) {
    case boost::json::kind::null: lua_pushnil(L); return;
    case boost::json::kind::bool_: lua_pushboolean(L, v.get_bool()); return;
    case boost::json::kind::int64: lua_pushinteger(L, v.get_int64()); return;
    case boost::json::kind::uint64: lua_pushinteger(L, static_cast<lua_Integer>(v.get_uint64())); return;
    case boost::json::kind::double_: lua_pushnumber(L, v.get_double()); return;
    case boost::json::kind::string: lua_pushlstring(L, v.get_string().data(), v.get_string().size()); return;
    case boost::json::kind::array: {
        const auto& a = v.get_array();
        lua_createtable(L, static_cast<int>(a.size()), 0);
        lua_Integer i = 1;
        for (const auto& item : a) {
            push_json(L, item);
            lua_rawseti(L, -2, i++);
        }
        return;
    }
    case boost::json::kind::object: {
        const auto& o = v.get_object();
        lua_createtable(L, 0, static_cast<int>(o.size()));
        for (const auto& kv : o) {
            push_json(L, kv.value());
            lua_setfield(L, -2, std::string(kv.key()).c_str());
        }
        return;
    }
    }
}

}  // namespace haineko::plugin
