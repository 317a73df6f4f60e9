// haineko.dns.query(name, type) (spec/plugins.md, "The API"): records, ttl, or nil and
// the error; a wait that suspends only its own hook, cut off by the hook's deadline.
#include <boost/asio.hpp>

#include <memory>

#include "plugin/api.hpp"
#include "plugin/call.hpp"
#include "plugin/host.hpp"

namespace haineko::plugin {

namespace {

namespace asio = boost::asio;

constexpr std::size_t kMaxName = 253;

bool type_ok(std::string_view t) { return t == "A" || t == "AAAA" || t == "MX" || t == "TXT" || t == "PTR"; }

int dns_query(lua_State* L) {
    CallState* c = LuaState::call_of(L);
    Host* host = c ? static_cast<Host*>(c->host) : nullptr;
    Dns* dns = host ? host->services().dns : nullptr;
    std::size_t n = 0;
    const char* name = luaL_checklstring(L, 1, &n);
    const char* type = luaL_checkstring(L, 2);
    if (!type_ok(type)) return luaL_error(L, "haineko.dns.query: type is A, AAAA, MX, TXT or PTR");
    if (n == 0 || n > kMaxName) return luaL_error(L, "haineko.dns.query: a name is 1 to 253 octets");
    if (!dns) return luaL_error(L, "haineko.dns.query: no resolver here");
    return wait_then(L, [dns, name = std::string(name, n), type = std::string(type)](CallState& call) -> asio::awaitable<void> {
        auto answer = std::make_shared<DnsAnswer>(co_await dns->query(name, type));
        call.results = [answer](lua_State* co) {
            if (!answer->error.empty()) {
                lua_pushnil(co);
                lua_pushstring(co, answer->error.c_str());
                return 2;
            }
            lua_createtable(co, static_cast<int>(answer->records.size()), 0);
            lua_Integer i = 1;
            for (const auto& r : answer->records) {
                lua_pushlstring(co, r.data(), r.size());
                lua_rawseti(co, -2, i++);
            }
            lua_pushinteger(co, answer->ttl);
            return 2;
        };
    });
}

}  // namespace

void push_dns_api(lua_State* L) {
    lua_newtable(L);
    lua_pushcfunction(L, dns_query);
    lua_setfield(L, -2, "query");
}

}  // namespace haineko::plugin
