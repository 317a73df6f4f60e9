#include "plugin/host.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "plugin/api.hpp"
#include "plugin/plugin_metrics.hpp"
#include "plugin/to_lua.hpp"

namespace haineko::plugin {

namespace {

namespace asio = boost::asio;

constexpr std::size_t kMaxModule = 1024 * 1024;

std::string file_text(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) return {};
    if (std::filesystem::file_size(path, ec) > kMaxModule || ec) return {};
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

bool module_name_ok(const std::string& name) {
    if (name.empty() || name.size() > 128 || name.front() == '.' || name.find("..") != std::string::npos) return false;
    for (char c : name)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
    return true;
}

// require's reader: NAME.lua, then the dotted path (a.b as a/b.lua), in ROOT/plugins, then
// the bundled modules. Upvalue 1: the directory.
int read_module(lua_State* L) {
    const std::string name = luaL_checkstring(L, 1);
    const std::string dir = lua_tostring(L, lua_upvalueindex(1));
    if (!module_name_ok(name)) {
        lua_pushnil(L);
        lua_pushfstring(L, "require: '%s' is not a module name", name.c_str());
        return 2;
    }
    std::string dotted = name;
    for (char& c : dotted)
        if (c == '.') c = '/';
    for (const std::string& candidate : {dir + "/" + name + ".lua", dir + "/" + dotted + ".lua"}) {
        std::string text = file_text(candidate);
        if (text.empty()) continue;
        lua_pushlstring(L, text.data(), text.size());
        lua_pushstring(L, ("@" + candidate).c_str());
        return 2;
    }
    if (const std::string* text = bundled_source(name)) {
        lua_pushlstring(L, text->data(), text->size());
        lua_pushstring(L, ("@bundled/" + name + ".lua").c_str());
        return 2;
    }
    lua_pushnil(L);
    lua_pushfstring(L, "require: no module '%s' in %s or the bundled ones", name.c_str(), dir.c_str());
    return 2;
}

// The globals a plugin may use (spec/plugins.md, "A plugin"); the prelude copies them
// into each plugin's environment.
void push_allowed_globals(lua_State* L) {
    lua_newtable(L);
    for (const char* lib : {"string", "table", "math", "utf8"}) {
        lua_getglobal(L, lib);
        lua_setfield(L, -2, lib);
    }
    lua_newtable(L);  // os: the clock and the date only
    lua_getglobal(L, "os");
    for (const char* f : {"time", "clock", "date", "difftime"}) {
        lua_getfield(L, -1, f);
        lua_setfield(L, -3, f);
    }
    lua_pop(L, 1);
    lua_setfield(L, -2, "os");
    for (const char* f : {"pairs", "ipairs", "pcall", "xpcall", "error", "assert", "tostring", "tonumber", "type",
                          "select", "next", "rawequal", "rawget", "rawset", "rawlen", "setmetatable", "getmetatable"}) {
        lua_getglobal(L, f);
        lua_setfield(L, -2, f);
    }
    push_api(L);
    lua_setfield(L, -2, "haineko");
}

// Strings share one metatable whose __index is the real string table: hidden from
// getmetatable, so that no plugin can change string methods for the others.
void seal_strings(lua_State* L) {
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushliteral(L, "string");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);
    lua_getglobal(L, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
}

const char* const kHookFields[kHookCount] = {
    "hook_connect", "hook_ehlo",  "hook_auth",       "hook_mail",      "hook_rcpt",     "hook_data",  "hook_data_post",
    "hook_queue",   "hook_disconnect", "hook_get_route", "hook_delivered", "hook_deferred", "hook_bounce",
    "hook_reset_transaction"};

}  // namespace

Host::Host(const PluginSettings& settings, Services services)
    : settings_(settings), services_(services), state_(static_cast<std::size_t>(settings.memory_mb) * 1024 * 1024) {
    lua_State* L = state_.get();
    luaL_openlibs(L);
    open_prelude();
    seal_strings(L);
    push_allowed_globals(L);
    base_ = luaL_ref(L, LUA_REGISTRYINDEX);
    for (const auto& file : settings.list) load_one(file);
}

Host::~Host() = default;

void Host::open_prelude() {
    lua_State* L = state_.get();
    const std::string& text = prelude_source();
    if (luaL_loadbufferx(L, text.data(), text.size(), "@prelude.lua", "t") != LUA_OK ||
        lua_pcall(L, 0, 1, 0) != LUA_OK)
        throw LoadError("the plugin prelude does not load: " + string_at(L, -1));
    prelude_ = luaL_ref(L, LUA_REGISTRYINDEX);
}

void Host::push_helper(lua_State* L, const char* name) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, prelude_);
    lua_getfield(L, -1, name);
    lua_remove(L, -2);
}

bool Host::call_helper(lua_State* L, int nargs, int nresults) {
    if (lua_pcall(L, nargs, nresults, 0) == LUA_OK) return true;
    spdlog::error("plugin host: {}", string_at(L, -1));
    lua_pop(L, 1);
    return false;
}

void Host::load_one(const PluginFile& file) {
    lua_State* L = state_.get();
    const std::string* code = file.path.empty() ? bundled_source(file.name) : &file.code;
    if (!code)
        throw LoadError(file.origin + ": no plugin " + file.name + ": neither " + settings_.dir + "/" + file.name +
                        ".lua nor a bundled one");
    const std::string chunkname = file.path.empty() ? "@bundled/" + file.name + ".lua" : "@" + file.path;
    const int top = lua_gettop(L);
    if (luaL_loadbufferx(L, code->data(), code->size(), chunkname.c_str(), "t") != LUA_OK) {
        std::string why = string_at(L, -1);
        lua_settop(L, top);
        throw LoadError(why);
    }
    push_helper(L, "environment");
    lua_rawgeti(L, LUA_REGISTRYINDEX, base_);
    lua_pushstring(L, settings_.dir.c_str());
    lua_pushcclosure(L, read_module, 1);
    if (!call_helper(L, 2, 1)) throw LoadError(file.origin + ": cannot make the environment of " + file.name);
    lua_setupvalue(L, -2, 1);  // the chunk's _ENV
    const int chunk = luaL_ref(L, LUA_REGISTRYINDEX);
    CallState call;
    call.plugin = file.name;
    call.budget = file.max_instructions;
    call.deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                            std::chrono::duration<double>(file.timeout));
    call.host = this;
    int returned = 0;
    Result r = call_now(state_, chunk, call, {}, &returned);
    luaL_unref(L, LUA_REGISTRYINDEX, chunk);
    if (!r.failure.empty()) {
        lua_settop(L, top);
        throw LoadError(file.name + ": " + r.failure);
    }
    if (returned < 1 || !lua_istable(L, top + 1)) {
        lua_settop(L, top);
        throw LoadError(chunkname.substr(1) + ": a plugin returns a table (return P)");
    }
    lua_settop(L, top + 1);
    lua_pushstring(L, file.name.c_str());
    lua_setfield(L, -2, "name");
    push_json(L, file.config);
    lua_setfield(L, -2, "config");
    Loaded loaded{file, {}};
    loaded.hooks.fill(LUA_NOREF);
    for (int h = 0; h < kHookCount; ++h) {
        lua_getfield(L, -1, kHookFields[h]);
        if (lua_isfunction(L, -1)) {
            loaded.hooks[h] = luaL_ref(L, LUA_REGISTRYINDEX);
            any_[h] = true;
        } else {
            lua_pop(L, 1);
        }
    }
    lua_getfield(L, -1, "register");
    if (lua_isfunction(L, -1)) {
        const int reg = luaL_ref(L, LUA_REGISTRYINDEX);
        const int self = luaL_ref(L, LUA_REGISTRYINDEX);  // P, kept for the call
        CallState rc = call;
        rc.used = 0;
        Result rr = call_now(state_, reg, rc, [self](lua_State* co) {
            lua_rawgeti(co, LUA_REGISTRYINDEX, self);
            return 1;
        }, &returned);
        luaL_unref(L, LUA_REGISTRYINDEX, reg);
        lua_settop(L, top);
        if (!rr.failure.empty()) throw LoadError(file.name + ": register() failed: " + rr.failure);
    } else {
        lua_settop(L, top);
    }
    plugins_.push_back(std::move(loaded));
}

bool Host::settled(const Loaded& p, const Result& r, std::chrono::steady_clock::time_point started,
                   const std::string& queue_id) {
    PluginMetrics& metrics = PluginMetrics::get();
    metrics.seconds(p.file.name, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    if (r.failure.empty()) return true;
    spdlog::error("plugin={} hook={}{} failed: {}", p.file.name, hook_name(r.hook),
                  queue_id.empty() ? "" : " queueid=" + queue_id, r.failure);
    metrics.error(p.file.name, hook_name(r.hook));
    lua_gc(state_.get(), LUA_GCCOLLECT);  // a hook that filled the state leaves garbage
    return false;
}

CallState Host::call_for(const Loaded& p, Hook h, const std::string& queue_id) {
    CallState call;
    call.plugin = p.file.name;
    call.output = p.file.output;
    call.queue_id = queue_id;
    call.hook = h;
    call.budget = p.file.max_instructions;
    call.deadline = std::chrono::steady_clock::now() +
                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(p.file.timeout));
    call.host = this;
    return call;
}

asio::awaitable<void> Host::run_value(Hook h, const std::string& queue_id, const PushArgs& args, const ValueReader& values) {
    const int index = static_cast<int>(h);
    for (const Loaded& p : plugins_) {
        if (p.hooks[index] == LUA_NOREF) continue;
        CallState call = call_for(p, h, queue_id);
        const auto started = std::chrono::steady_clock::now();
        const Result r = co_await call_hook(state_, p.hooks[index], call, args, &values);
        if (!settled(p, r, started, queue_id)) continue;
        PluginMetrics::get().result(p.file.name, hook_name(h), answer_name(r.answer));
        if (r.answer == Answer::ok) co_return;
    }
}

asio::awaitable<Result> Host::run(Hook h, const std::string& queue_id, const PushArgs& args,
                                  const std::function<void(const std::string&)>* after,
                                  std::vector<HookAnswer>* answers) {
    const int index = static_cast<int>(h);
    for (const Loaded& p : plugins_) {
        if (p.hooks[index] == LUA_NOREF) continue;
        CallState call = call_for(p, h, queue_id);
        const auto started = std::chrono::steady_clock::now();
        Result r = co_await call_hook(state_, p.hooks[index], call, args);
        if (!settled(p, r, started, queue_id)) {
            r.answer = p.file.on_error_cont ? Answer::cont : Answer::denysoft;
            r.text.clear();
            r.code = 0;
            r.dsn.clear();
            if (r.answer == Answer::cont) r.failure.clear();
        }
        PluginMetrics::get().result(p.file.name, hook_name(h), answer_name(r.answer));
        if (after && *after) (*after)(p.file.name);
        if (answers) answers->push_back(HookAnswer{p.file.name, h, r.answer, r.failure.empty() ? r.text : r.failure});
        if (r.answer != Answer::cont) co_return r;
    }
    Result none;
    none.hook = h;
    co_return none;
}

void check_plugins(const PluginSettings& settings) { Host scratch(settings); }

}  // namespace haineko::plugin
