// The plugins that run (ROOT/etc/plugins, one name a line), each plugin's file and its
// settings (ROOT/etc/plugins.d/NAME.yaml), and haineko.cf's plugins: section. Only files
// are read here; compiling the Lua is the plugin host's job (plugin/).
#pragma once
#include <boost/json/object.hpp>
#include <yaml-cpp/yaml.h>

#include <string>

#include "config/config.hpp"

namespace haineko {

// top is haineko.cf's document (null when there is none). Throws ConfigError with
// FILE:LINE for a name that cannot be a plugin, a settings file with a wrong value, or a
// plugin file that exists but cannot be read.
void load_plugin_settings(Config& config, const YAML::Node& top, const std::string& file);

// The plugins in effect, for /conf.
boost::json::object plugins_conf_json(const Config& config);

}  // namespace haineko
