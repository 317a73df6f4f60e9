// Reading the YAML (or JSON) config files, with errors that name the file and the line.
#pragma once
#include <boost/json.hpp>
#include <yaml-cpp/yaml.h>

#include <optional>
#include <stdexcept>
#include <string>

namespace haineko {

class ConfigError : public std::runtime_error {
public:
    ConfigError(const std::string& file, int line, const std::string& problem);
};

// A file larger than this is refused: config files are small, and a huge one is a mistake.
constexpr std::uintmax_t kMaxConfigFileSize = 8 * 1024 * 1024;

// The parsed document, or nullopt when the file is missing, unreadable or empty (the
// original's -f -r -s test): such a file means "use the defaults".
// Throws ConfigError for a syntax error.
std::optional<YAML::Node> load_yaml_file(const std::string& path);

// The node's 1-based line, for messages.
int line_of(const YAML::Node& node);

// YAML to JSON: plain scalars that look like integers, floats, booleans or null become
// those; quoted scalars stay strings.
boost::json::value yaml_to_json(const YAML::Node& node);

}  // namespace haineko
