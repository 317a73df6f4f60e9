#include "plugin/delivery.hpp"

#include <spdlog/spdlog.h>

#include <functional>

#include "plugin/header_fields.hpp"
#include "plugin/host.hpp"

namespace haineko::plugin {

namespace {

namespace asio = boost::asio;

void push_string(lua_State* L, const std::string& s) { lua_pushlstring(L, s.data(), s.size()); }

// msg as a registry ref (LUA_NOREF when it could not be made).
int make_msg(Host& host, const MsgFacts& m) {
    lua_State* L = host.state().get();
    host.push_helper(L, "msg");
    push_string(L, m.id);
    push_string(L, m.mail_from);
    push_header_fields(L, m.bytes ? header_of(*m.bytes) : std::string_view());
    lua_pushinteger(L, m.attempts);
    push_string(L, m.mailer);
    push_string(L, m.host);
    lua_pushinteger(L, m.port);
    if (!host.call_helper(L, 7, 1)) return LUA_NOREF;
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

// A get_route table as JSON: string keys, and strings, numbers and booleans.
bool table_to_json(lua_State* L, int index, boost::json::object& out) {
    lua_pushnil(L);
    while (lua_next(L, index)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            lua_pop(L, 2);
            return false;
        }
        const std::string key = string_at(L, -2);
        switch (lua_type(L, -1)) {
        case LUA_TSTRING: out[key] = string_at(L, -1); break;
        case LUA_TBOOLEAN: out[key] = static_cast<bool>(lua_toboolean(L, -1)); break;
        case LUA_TNUMBER:
            if (lua_isinteger(L, -1)) out[key] = static_cast<std::int64_t>(lua_tointeger(L, -1));
            else out[key] = lua_tonumber(L, -1);
            break;
        default: lua_pop(L, 2); return false;
        }
        lua_pop(L, 1);
    }
    return true;
}

}  // namespace

asio::awaitable<RouteChoice> choose_route_by_plugins(Host& host, const MsgFacts& msg, const std::string& rcpt) {
    RouteChoice choice;
    if (!host.any(Hook::get_route)) co_return choice;
    const int ref = make_msg(host, msg);
    if (ref == LUA_NOREF) co_return choice;
    lua_State* L = host.state().get();
    // The hook returns a value, not an answer: each plugin's return is read by the host's
    // value hook (Host::run_value), the first one that is not nil wins.
    const PushArgs args = [ref, &rcpt](lua_State* co) {
        lua_rawgeti(co, LUA_REGISTRYINDEX, ref);
        lua_pushlstring(co, rcpt.data(), rcpt.size());
        return 2;
    };
    const std::function<bool(lua_State*, int, const std::string&)> take = [&](lua_State* co, int index,
                                                                              const std::string& plugin) {
        if (lua_isnil(co, index)) return false;
        choice.plugin = plugin;
        if (lua_type(co, index) == LUA_TSTRING) {
            choice.kind = RouteChoice::Kind::named;
            choice.name = string_at(co, index);
            return true;
        }
        if (lua_istable(co, index) && table_to_json(co, index, choice.table)) {
            choice.kind = RouteChoice::Kind::table;
            return true;
        }
        spdlog::error("plugin={} hook=get_route queueid={} returned {}, not nil, a name or a table: the route stays",
                      plugin, msg.id, luaL_typename(co, index));
        return false;
    };
    co_await host.run_value(Hook::get_route, msg.id, args, take);
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
    co_return choice;
}

asio::awaitable<void> tell_outcome(Host& host, Hook hook, const MsgFacts& msg, const std::string& rcpt,
                                   const DeliveryReply& reply) {
    if (!host.any(hook)) co_return;
    const int ref = make_msg(host, msg);
    if (ref == LUA_NOREF) co_return;
    lua_State* L = host.state().get();
    host.push_helper(L, "reply");
    lua_pushinteger(L, reply.code);
    push_string(L, reply.dsn);
    push_string(L, reply.text);
    push_string(L, reply.host);
    const int reply_ref = host.call_helper(L, 4, 1) ? luaL_ref(L, LUA_REGISTRYINDEX) : LUA_NOREF;
    const PushArgs args = [ref, reply_ref, &rcpt](lua_State* co) {
        lua_rawgeti(co, LUA_REGISTRYINDEX, ref);
        lua_pushlstring(co, rcpt.data(), rcpt.size());
        lua_rawgeti(co, LUA_REGISTRYINDEX, reply_ref);
        return 3;
    };
    const std::function<bool(lua_State*, int, const std::string&)> ignore = [](lua_State*, int, const std::string&) {
        return false;
    };
    co_await host.run_value(hook, msg.id, args, ignore);
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
    luaL_unref(L, LUA_REGISTRYINDEX, reply_ref);
}

}  // namespace haineko::plugin
