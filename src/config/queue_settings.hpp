// The queue:, v1: and webhooks: sections of haineko.cf (api-v1.md, "Configuration").
#pragma once
#include <boost/json/object.hpp>
#include <yaml-cpp/yaml.h>

#include <string>

#include "config/config.hpp"

namespace haineko {

// top is haineko.cf's document (null when there is none). Throws ConfigError with
// FILE:LINE for a value that cannot work.
void load_queue_settings(Config& config, const YAML::Node& top, const std::string& file);

// The queue, v1 and webhooks settings in effect, for /conf. A webhook's secret is
// masked as authinfo's passwords are.
boost::json::object queue_conf_json(const Config& config);

// The event types of the API, which webhooks may name.
bool is_event_type(const std::string& name);

}  // namespace haineko
