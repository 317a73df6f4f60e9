#include "config/yaml_file.hpp"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace haineko {

ConfigError::ConfigError(const std::string& file, int line, const std::string& problem)
    : std::runtime_error(file + (line > 0 ? ":" + std::to_string(line) : "") + ": " + problem) {}

int line_of(const YAML::Node& node) { return node.Mark().line >= 0 ? node.Mark().line + 1 : 0; }

std::optional<YAML::Node> load_yaml_file(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) return std::nullopt;
    auto size = std::filesystem::file_size(path, ec);
    if (ec || size == 0) return std::nullopt;
    if (size > kMaxConfigFileSize) throw ConfigError(path, 0, "file is larger than 8 MiB");
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::stringstream buffer;
    buffer << in.rdbuf();
    try {
        YAML::Node doc = YAML::Load(buffer.str());
        if (doc.IsNull()) return std::nullopt;
        return doc;
    } catch (const YAML::Exception& e) {
        throw ConfigError(path, e.mark.line >= 0 ? e.mark.line + 1 : 0, e.msg);
    }
}

namespace {

boost::json::value plain_scalar(const std::string& s) {
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    std::int64_t i = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
    if (ec == std::errc{} && p == s.data() + s.size()) return i;
    double d = 0;
    auto [p2, ec2] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (ec2 == std::errc{} && p2 == s.data() + s.size()) return d;
    return boost::json::string(s);
}

boost::json::value convert(const YAML::Node& node, int depth) {
    if (depth > 64) throw ConfigError("", line_of(node), "nesting is deeper than 64 levels");
    switch (node.Type()) {
        case YAML::NodeType::Scalar:
            if (node.Tag() == "!") return boost::json::string(node.Scalar());
            return plain_scalar(node.Scalar());
        case YAML::NodeType::Sequence: {
            boost::json::array a;
            for (const auto& item : node) a.push_back(convert(item, depth + 1));
            return a;
        }
        case YAML::NodeType::Map: {
            boost::json::object o;
            for (const auto& kv : node) o[kv.first.as<std::string>()] = convert(kv.second, depth + 1);
            return o;
        }
        default:
            return nullptr;
    }
}

}  // namespace

boost::json::value yaml_to_json(const YAML::Node& node) { return convert(node, 0); }

}  // namespace haineko
