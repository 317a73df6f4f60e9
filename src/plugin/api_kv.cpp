// haineko.kv (spec/plugins.md, "The API"): get, set, incr and del on the queue's store,
// each a wait that suspends only its own hook.
#include <boost/asio.hpp>

#include <memory>

#include "plugin/api.hpp"
#include "plugin/call.hpp"
#include "plugin/host.hpp"

namespace haineko::plugin {

namespace {

namespace asio = boost::asio;

constexpr std::size_t kMaxKey = 1024;
constexpr std::size_t kMaxValue = 65536;
constexpr lua_Integer kMaxTtl = 100LL * 365 * 86400;

Kv* kv_of(lua_State* L) {
    CallState* c = LuaState::call_of(L);
    Host* host = c ? static_cast<Host*>(c->host) : nullptr;
    return host ? host->services().kv : nullptr;
}

// The key (argument 1), checked; raises for a wrong one. A view, so that a raise in a
// later check skips no destructor (Lua's errors are longjmps).
std::string_view key_at(lua_State* L, const char* call) {
    std::size_t n = 0;
    const char* k = luaL_checklstring(L, 1, &n);
    if (n == 0 || n > kMaxKey) luaL_error(L, "haineko.kv.%s: a key is 1 to 1,024 octets", call);
    return std::string_view(k, n);
}

// The ttl at index (nil: none), checked.
std::optional<long long> ttl_at(lua_State* L, int index, const char* call) {
    if (lua_isnoneornil(L, index)) return std::nullopt;
    const lua_Integer ttl = luaL_checkinteger(L, index);
    if (ttl <= 0 || ttl > kMaxTtl) luaL_error(L, "haineko.kv.%s: ttl is a number of seconds above 0", call);
    return ttl;
}

// The store's failure as the hook's error, once the hook is resumed.
void fail_with(CallState& c, const std::exception& e) {
    std::string why = std::string("haineko.kv: the store cannot answer: ") + e.what();
    c.results = [why](lua_State* L) { return luaL_error(L, "%s", why.c_str()); };
}

int kv_get(lua_State* L) {
    Kv* kv = kv_of(L);
    if (!kv) return luaL_error(L, "haineko.kv: there is no queue to keep keys in");
    const std::string_view key = key_at(L, "get");
    return wait_then(L, [kv, key = std::string(key)](CallState& c) -> asio::awaitable<void> {
        try {
            auto value = std::make_shared<std::optional<std::string>>(co_await kv->get(key));
            c.results = [value](lua_State* co) {
                if (*value) lua_pushlstring(co, (*value)->data(), (*value)->size());
                else lua_pushnil(co);
                return 1;
            };
        } catch (const std::exception& e) {
            fail_with(c, e);
        }
    });
}

int kv_set(lua_State* L) {
    Kv* kv = kv_of(L);
    if (!kv) return luaL_error(L, "haineko.kv: there is no queue to keep keys in");
    const std::string_view key = key_at(L, "set");
    std::size_t n = 0;
    const char* v = luaL_checklstring(L, 2, &n);
    if (n > kMaxValue) return luaL_error(L, "haineko.kv.set: a value is at most 65,536 octets");
    const auto ttl = ttl_at(L, 3, "set");
    return wait_then(L, [kv, key = std::string(key), value = std::string(v, n), ttl](CallState& c) -> asio::awaitable<void> {
        try {
            co_await kv->set(key, value, ttl);
            c.results = [](lua_State*) { return 0; };
        } catch (const std::exception& e) {
            fail_with(c, e);
        }
    });
}

int kv_incr(lua_State* L) {
    Kv* kv = kv_of(L);
    if (!kv) return luaL_error(L, "haineko.kv: there is no queue to keep keys in");
    const std::string_view key = key_at(L, "incr");
    const lua_Integer by = luaL_optinteger(L, 2, 1);
    const auto ttl = ttl_at(L, 3, "incr");
    return wait_then(L, [kv, key = std::string(key), by, ttl](CallState& c) -> asio::awaitable<void> {
        try {
            const long long n = co_await kv->incr(key, by, ttl);
            c.results = [n](lua_State* co) {
                lua_pushinteger(co, n);
                return 1;
            };
        } catch (const std::exception& e) {
            fail_with(c, e);
        }
    });
}

int kv_del(lua_State* L) {
    Kv* kv = kv_of(L);
    if (!kv) return luaL_error(L, "haineko.kv: there is no queue to keep keys in");
    const std::string_view key = key_at(L, "del");
    return wait_then(L, [kv, key = std::string(key)](CallState& c) -> asio::awaitable<void> {
        try {
            co_await kv->del(key);
            c.results = [](lua_State*) { return 0; };
        } catch (const std::exception& e) {
            fail_with(c, e);
        }
    });
}

}  // namespace

void push_kv_api(lua_State* L) {
    lua_newtable(L);
    const std::pair<const char*, lua_CFunction> fs[] = {{"get", kv_get}, {"set", kv_set}, {"incr", kv_incr}, {"del", kv_del}};
    for (const auto& [name, f] : fs) {
        lua_pushcfunction(L, f);
        lua_setfield(L, -2, name);
    }
}

}  // namespace haineko::plugin
