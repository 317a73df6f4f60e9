#include "plugin/api.hpp"

#include <boost/asio.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "core/text.hpp"
#include "plugin/call.hpp"
#include "plugin/output_files.hpp"
#include "plugin/plugin_metrics.hpp"

namespace haineko::plugin {

namespace {

namespace asio = boost::asio;

constexpr std::size_t kMaxLogLine = 2000;

std::string joined_arguments(lua_State* L) {
    std::string text;
    const int n = lua_gettop(L);
    for (int i = 1; i <= n; ++i) {
        if (i > 1) text += ' ';
        std::size_t len = 0;
        const char* s = luaL_tolstring(L, i, &len);
        text.append(s, len);
        lua_pop(L, 1);
        if (text.size() > kMaxLogLine) break;
    }
    if (text.size() > kMaxLogLine) text.resize(kMaxLogLine);
    return text;
}

template <spdlog::level::level_enum Level>
int log_line(lua_State* L) {
    const CallState* c = LuaState::call_of(L);
    const std::string text = loggable(joined_arguments(L));
    const std::string plugin = c ? c->plugin : "?";
    const std::string id = c && !c->queue_id.empty() ? " queueid=" + c->queue_id : "";
    spdlog::log(Level, "plugin={}{} {}", plugin, id, text);
    return 0;
}

constexpr std::size_t kMaxOutputLine = 65536;

// haineko.output(line): one line to the plugin's own file; true, or false when dropped.
int output_line(lua_State* L) {
    const CallState* c = LuaState::call_of(L);
    std::size_t len = 0;
    const char* s = luaL_checklstring(L, 1, &len);
    if (!c || c->output.empty())
        return luaL_error(L, "haineko.output: no file; set output: in etc/plugins.d/%s.yaml", c ? c->plugin.c_str() : "NAME");
    if (len > kMaxOutputLine) return luaL_error(L, "haineko.output: a line is at most 65536 octets");
    bool kept = false;
    {
        std::string line(s, len);
        for (char& ch : line)
            if (ch == '\n' || ch == '\r') ch = ' ';  // one call, one line
        kept = OutputFiles::get().append(c->output, std::move(line));
    }
    lua_pushboolean(L, kept);
    return 1;
}

int sleep_for(lua_State* L) {
    const lua_Number ms = luaL_checknumber(L, 1);
    if (!(ms >= 0)) return luaL_error(L, "haineko.sleep: milliseconds are 0 or more");
    const auto wait = std::chrono::microseconds(static_cast<long long>(std::min<lua_Number>(ms, 86'400'000) * 1000));
    return wait_then(L, [wait](CallState&) -> asio::awaitable<void> {
        asio::steady_timer timer(co_await asio::this_coro::executor, wait);
        boost::system::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    });
}

bool metric_name_ok(std::string_view s, bool label) {
    if (s.empty() || s.size() > 64) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        const bool letter = label ? std::isalpha(static_cast<unsigned char>(c)) || c == '_' : (c >= 'a' && c <= 'z');
        const bool digit = std::isdigit(static_cast<unsigned char>(c)) || (!label && c == '_');
        if (!(letter || (i > 0 && digit))) return false;
    }
    return true;
}

// The labels table as Prometheus writes them, sorted by name; false when one is wrong.
// Reads strings and numbers only (no metamethod runs), so that nothing raises in here.
bool labels_of(lua_State* L, int index, std::string& out) {
    std::map<std::string, std::string> labels;
    if (lua_istable(L, index)) {
        lua_pushnil(L);
        while (lua_next(L, index)) {
            const bool name_ok = lua_type(L, -2) == LUA_TSTRING && metric_name_ok(lua_tostring(L, -2), true);
            const int t = lua_type(L, -1);
            if (!name_ok || labels.size() >= 16 || (t != LUA_TSTRING && t != LUA_TNUMBER)) {
                lua_pop(L, 2);
                return false;
            }
            std::size_t n = 0;
            lua_pushvalue(L, -1);  // lua_tolstring converts a number in place: convert a copy
            const char* v = lua_tolstring(L, -1, &n);
            labels[lua_tostring(L, -3)] = std::string(v, std::min<std::size_t>(n, 200));
            lua_pop(L, 2);
        }
    }
    for (const auto& [k, v] : labels) {
        if (!out.empty()) out += ',';
        out += k + "=\"";
        for (char c : v) out += (c == '"' || c == '\\') ? std::string("\\") + c : c == '\n' ? std::string("\\n") : std::string(1, c);
        out += '"';
    }
    return true;
}

int metrics_incr(lua_State* L) {
    const char* name = luaL_checkstring(L, 1);
    if (!metric_name_ok(name, false)) return luaL_error(L, "haineko.metrics.incr: a name is [a-z][a-z0-9_]*");
    // The host's own families are haineko_plugin_{results,errors}_total.
    if (std::string_view(name) == "results" || std::string_view(name) == "errors")
        return luaL_error(L, "haineko.metrics.incr: '%s' is the host's own name", name);
    const lua_Number by = luaL_optnumber(L, 3, 1);
    if (!(by >= 0)) return luaL_error(L, "haineko.metrics.incr: a counter only grows");
    bool ok;
    {
        std::string labels;
        ok = labels_of(L, 2, labels);
        if (ok) PluginMetrics::get().custom(name, labels, by);
    }
    if (!ok) return luaL_error(L, "haineko.metrics.incr: labels are {name = string or number}, at most 16");
    return 0;
}

void set_functions(lua_State* L, const char* table, std::initializer_list<std::pair<const char*, lua_CFunction>> fs) {
    lua_newtable(L);
    for (const auto& [name, f] : fs) {
        lua_pushcfunction(L, f);
        lua_setfield(L, -2, name);
    }
    lua_setfield(L, -2, table);
}

}  // namespace

void push_api(lua_State* L) {
    lua_newtable(L);
    for (const auto& [name, value] : {std::pair{"CONT", kCont}, {"OK", kOk}, {"DENY", kDeny}, {"DENYSOFT", kDenySoft},
                                      {"DENYDISCONNECT", kDenyDisconnect}, {"DENYSOFTDISCONNECT", kDenySoftDisconnect}}) {
        lua_pushinteger(L, value);
        lua_setfield(L, -2, name);
    }
    lua_pushcfunction(L, sleep_for);
    lua_setfield(L, -2, "sleep");
    lua_pushcfunction(L, output_line);
    lua_setfield(L, -2, "output");
    set_functions(L, "log", {{"info", log_line<spdlog::level::info>},
                             {"warn", log_line<spdlog::level::warn>},
                             {"error", log_line<spdlog::level::err>}});
    set_functions(L, "metrics", {{"incr", metrics_incr}});
    push_kv_api(L);
    lua_setfield(L, -2, "kv");
    push_dns_api(L);
    lua_setfield(L, -2, "dns");
    push_http_api(L);
    lua_setfield(L, -2, "http");
}

}  // namespace haineko::plugin
