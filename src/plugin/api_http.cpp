// haineko.http.request{method=, url=, headers=, body=, timeout=} (spec/plugins.md, "The
// API"): {status=, headers=, body=} or nil and the error; a wait that suspends only its
// own hook, its timeout bounded by the hook's deadline.
#include <boost/asio.hpp>

#include <algorithm>
#include <cmath>
#include <memory>

#include "plugin/api.hpp"
#include "plugin/call.hpp"
#include "plugin/host.hpp"

namespace haineko::plugin {

namespace {

namespace asio = boost::asio;

constexpr std::size_t kMaxBody = 1024 * 1024;

bool token(std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
    return true;
}

bool field_value(std::string_view s) {
    return s.size() <= 8192 && s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// Checks the request table at 1 and raises for what is wrong; nothing C++ is made here,
// so that a raise (a longjmp) skips no destructor.
void check_request(lua_State* L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_getfield(L, 1, "url") != LUA_TSTRING) luaL_error(L, "haineko.http.request: url is a string");
    lua_pop(L, 1);
    const int method = lua_getfield(L, 1, "method");
    if (method != LUA_TNIL && (method != LUA_TSTRING || !token(lua_tostring(L, -1))))
        luaL_error(L, "haineko.http.request: method is a word like GET or POST");
    lua_pop(L, 1);
    const int body = lua_getfield(L, 1, "body");
    if (body != LUA_TNIL && (body != LUA_TSTRING || lua_rawlen(L, -1) > kMaxBody))
        luaL_error(L, "haineko.http.request: body is a string of at most 1 MiB");
    lua_pop(L, 1);
    const int timeout = lua_getfield(L, 1, "timeout");
    if (timeout != LUA_TNIL && (timeout != LUA_TNUMBER || !(lua_tonumber(L, -1) > 0)))
        luaL_error(L, "haineko.http.request: timeout is a number of seconds");
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "headers") == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING || !token(lua_tostring(L, -2)) ||
                !field_value(lua_tostring(L, -1)))
                luaL_error(L, "haineko.http.request: headers are {Name = 'value'} without line breaks");
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

HttpCall request_of(lua_State* L, const CallState& c) {
    HttpCall call;
    lua_getfield(L, 1, "url");
    call.url = string_at(L, -1);
    lua_getfield(L, 1, "method");
    if (lua_isstring(L, -1)) call.method = string_at(L, -1);
    for (char& ch : call.method) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    lua_getfield(L, 1, "body");
    call.body = string_at(L, -1);
    lua_getfield(L, 1, "timeout");
    const double wanted = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : 10.0;
    lua_pop(L, 4);
    // No longer than the hook may still run (whole seconds, at least one).
    const double left = std::chrono::duration<double>(c.deadline - std::chrono::steady_clock::now()).count();
    call.timeout = static_cast<int>(std::max(1.0, std::ceil(std::min(wanted, std::max(left, 1.0)))));
    if (lua_getfield(L, 1, "headers") == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            call.headers.emplace_back(string_at(L, -2), string_at(L, -1));
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    return call;
}

int push_answer(lua_State* co, const HttpAnswer& a) {
    if (!a.error.empty()) {
        lua_pushnil(co);
        lua_pushlstring(co, a.error.data(), a.error.size());
        return 2;
    }
    lua_createtable(co, 0, 3);
    lua_pushinteger(co, a.status);
    lua_setfield(co, -2, "status");
    lua_pushlstring(co, a.body.data(), a.body.size());
    lua_setfield(co, -2, "body");
    lua_newtable(co);  // names in lower case; a repeated field's values joined by ", "
    for (const auto& [k, v] : a.headers) {
        std::string name = k;
        for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        lua_getfield(co, -1, name.c_str());
        if (lua_isstring(co, -1)) {
            std::string joined = string_at(co, -1) + ", " + v;
            lua_pop(co, 1);
            lua_pushlstring(co, joined.data(), joined.size());
        } else {
            lua_pop(co, 1);
            lua_pushlstring(co, v.data(), v.size());
        }
        lua_setfield(co, -2, name.c_str());
    }
    lua_setfield(co, -2, "headers");
    return 1;
}

int http_request(lua_State* L) {
    CallState* c = LuaState::call_of(L);
    Host* host = c ? static_cast<Host*>(c->host) : nullptr;
    Http* http = host ? host->services().http : nullptr;
    check_request(L);
    if (!http || !c) return luaL_error(L, "haineko.http.request: no HTTP client here");
    return wait_then(L, [http, call = request_of(L, *c)](CallState& state) -> asio::awaitable<void> {
        auto answer = std::make_shared<HttpAnswer>(co_await http->request(call));
        state.results = [answer](lua_State* co) { return push_answer(co, *answer); };
    });
}

}  // namespace

void push_http_api(lua_State* L) {
    lua_newtable(L);
    lua_pushcfunction(L, http_request);
    lua_setfield(L, -2, "request");
}

}  // namespace haineko::plugin
