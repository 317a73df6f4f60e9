#include <spdlog/spdlog.h>

#include <fmt/format.h>

#include "plugin/host.hpp"
#include "loops/runtime.hpp"

namespace haineko {


std::shared_ptr<plugin::Host> plugins_for(Loop& loop, const std::shared_ptr<const Config>& config) {
    // Each snapshot (each reload) loads the plugins again: a module may have changed on
    // disk even where the list did not.
    if (config == loop.plugins_config) return loop.plugins;
    loop.plugins_config = config;
    loop.plugins.reset();
    if (config->plugins.list.empty()) return nullptr;
    try {
        loop.plugins = std::make_shared<plugin::Host>(config->plugins, loop.plugin_services);
    } catch (const std::exception& e) {
        spdlog::error("the plugins cannot be loaded on event loop {}: {}", loop.index, e.what());
    }
    return loop.plugins;
}

std::string next_session_id(Loop& loop) { return fmt::format("{}-{:x}", loop.index, ++loop.sessions); }

}  // namespace haineko
