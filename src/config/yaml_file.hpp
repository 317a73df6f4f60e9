// Reading the YAML (or JSON) config files, with errors that name the file and the line.
// A loaded document has been checked whole before anyone reads it: keys are plain values,
// quotes are closed, nesting is bounded, and aliases cannot expand it without limit.
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
// Nodes a document may hold once every alias is expanded: a few anchors can otherwise
// describe billions of nodes in a few hundred bytes.
constexpr std::size_t kMaxConfigNodes = 1'000'000;
constexpr int kMaxConfigDepth = 64;

// The parsed document, or nullopt when the file is missing, unreadable or empty (the
// original's -f -r -s test): such a file means "use the defaults".
// Throws ConfigError (FILE:LINE: problem) for a syntax error or a document that fails
// the checks above.
std::optional<YAML::Node> load_yaml_file(const std::string& path);

// The same for text in memory; name is what errors call it.
std::optional<YAML::Node> load_yaml_text(const std::string& text, const std::string& name);

// The node's 1-based line, for messages.
int line_of(const YAML::Node& node);

// "FILE:LINE" of a node, for messages that point at it.
std::string where(const std::string& file, const YAML::Node& node);

// YAML to JSON: plain scalars that look like integers, floats, booleans or null become
// those; quoted scalars stay strings. Only for documents load_yaml_* returned.
boost::json::value yaml_to_json(const YAML::Node& node);

}  // namespace haineko
