// The plugins of one configuration, loaded into one Lua state for one event loop (so a
// hook call takes no lock): each plugin's chunk in its own environment, its register(),
// and a table of which plugin has which hook. run() calls one hook of every plugin that
// has it, in order, until one answers other than CONT; a failed hook answers its on_error.
#pragma once
#include <boost/asio/awaitable.hpp>

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "plugin/answer.hpp"
#include "plugin/call.hpp"
#include "plugin/lua_state.hpp"
#include "plugin/services.hpp"

namespace haineko::plugin {

// A plugin that cannot be loaded: "FILE:LINE: why" where Lua knows the line.
struct LoadError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Loaded {
    PluginFile file;
    std::array<int, kHookCount> hooks;  // registry refs, LUA_NOREF where the plugin has none
};

class Host {
public:
    // Throws LoadError for the first plugin that fails (its file, its chunk, register()).
    explicit Host(const PluginSettings& settings, Services services = {});
    ~Host();
    Host(const Host&) = delete;
    Host& operator=(const Host&) = delete;

    // Some plugin has this hook (so an intake can skip a stage that nobody watches).
    bool any(Hook h) const { return any_[static_cast<int>(h)]; }
    bool empty() const { return plugins_.empty(); }

    // The hook of every plugin that has it, until one answers other than CONT (OK
    // included). Logs and counts each answer and failure.
    // after (if not null) runs after each plugin's hook with that plugin's name, so that the
    // caller can tell who changed what.
    boost::asio::awaitable<Result> run(Hook h, const std::string& queue_id, const PushArgs& args,
                                       const std::function<void(const std::string&)>* after = nullptr,
                                       std::vector<HookAnswer>* answers = nullptr);

    // A hook whose plugins return values (get_route) or nothing that counts (delivered,
    // deferred, bounce): each plugin's return goes to values until it decides. Failures
    // are logged and counted; they decide nothing.
    boost::asio::awaitable<void> run_value(Hook h, const std::string& queue_id, const PushArgs& args,
                                           const ValueReader& values);

    LuaState& state() { return state_; }
    // A function of the prelude (plugin/prelude.lua), pushed onto L.
    void push_helper(lua_State* L, const char* name);
    // Calls a prelude function in protected mode: nargs already pushed after it; leaves
    // nresults. False (and an error logged) when it raised.
    bool call_helper(lua_State* L, int nargs, int nresults);

    // What the settings said, to tell whether a reload changed anything.
    const PluginSettings& settings() const { return settings_; }
    const Services& services() const { return services_; }

private:
    CallState call_for(const Loaded& p, Hook h, const std::string& queue_id);
    // Times the call; false (logged, counted, the state collected) when it failed.
    bool settled(const Loaded& p, const Result& r, std::chrono::steady_clock::time_point started,
                 const std::string& queue_id);
    void open_prelude();
    void load_one(const PluginFile& file);

    PluginSettings settings_;
    Services services_;
    LuaState state_;
    int prelude_ = 0;  // registry ref of the prelude's table
    int base_ = 0;     // registry ref of the allowed globals
    std::vector<Loaded> plugins_;
    std::array<bool, kHookCount> any_{};
};

// The text of a bundled plugin or module (src/plugin/bundled/NAME.lua), or nullptr.
const std::string* bundled_source(const std::string& name);
// The prelude (src/plugin/prelude.lua).
const std::string& prelude_source();

// The settings' plugins load (a scratch Host); throws LoadError. For check and reload.
void check_plugins(const PluginSettings& settings);

}  // namespace haineko::plugin
