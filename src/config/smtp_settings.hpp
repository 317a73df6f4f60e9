// The smtp: section of haineko.cf (Haineko as an SMTP server), the --smtp listeners, and
// the milters: that filter every intake.
#pragma once
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <utility>

#include "config/config.hpp"

namespace haineko {

// top is haineko.cf's document (null when there is none). Throws ConfigError with
// FILE:LINE for a value that cannot work: a bad address, mode or tls, or a TLS listener
// without a readable certificate and key.
void load_smtp_settings(Config& config, const YAML::Node& top, const std::string& file);

// "host:port" or "[v6]:port" as host and port; nullopt when it is neither.
std::optional<std::pair<std::string, unsigned short>> split_listen_address(const std::string& text);

// The milters: list (in the same file, as it serves every intake). Throws ConfigError.
void load_milter_settings(Config& config, const YAML::Node& top, const std::string& file);

// "inet:PORT@HOST", "inet:HOST:PORT", "inet6:PORT@HOST", "unix:/path" or "local:/path".
std::optional<MilterSettings> parse_milter_socket(const std::string& text);

// The smtp settings in effect, for /conf.
boost::json::object smtp_conf_json(const Config& config);
boost::json::array milters_conf_json(const Config& config);

}  // namespace haineko
