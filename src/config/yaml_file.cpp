#include "config/yaml_file.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/text.hpp"

namespace haineko {

ConfigError::ConfigError(const std::string& file, int line, const std::string& problem)
    : std::runtime_error(file + (line > 0 ? ":" + std::to_string(line) : "") + ": " + problem) {}

int line_of(const YAML::Node& node) { return node.Mark().line >= 0 ? node.Mark().line + 1 : 0; }

std::string where(const std::string& file, const YAML::Node& node) {
    int line = line_of(node);
    return line > 0 ? file + ":" + std::to_string(line) : file;
}

namespace {

// yaml-cpp ends a quoted scalar at the end of the text without complaint, so
// "mailer: 'File" followed by more lines silently swallows them into the value.
// The closing quote is looked for here, from the opening quote the node's mark points at.
bool quote_is_closed(const std::string& text, std::size_t open) {
    const char quote = text[open];
    for (std::size_t i = open + 1; i < text.size(); ++i) {
        if (quote == '"' && text[i] == '\\') {
            ++i;  // an escaped character, whatever it is
        } else if (text[i] == quote) {
            if (quote == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
                ++i;  // '' is an escaped single quote
                continue;
            }
            return true;
        }
    }
    return false;
}

// Walks the document as a reader would see it, aliases expanded, and stops at the first
// thing wrong with it. An alias is the very node its anchor names, so a collection met
// again is not walked again: what it adds (its values, its depth) is remembered from the
// first time. A few hundred bytes of nested aliases thus cost a few hundred steps to
// refuse, not a million.
class DocumentCheck {
public:
    DocumentCheck(const std::string& name, const std::string& text) : name_(name), text_(text) {}

    void walk(const YAML::Node& node, int depth) {
        if (depth > kMaxConfigDepth) too_deep(node);
        if (const Walked* seen = walked_before(node)) {
            count(node, seen->values);
            if (depth + seen->height > kMaxConfigDepth) too_deep(node);
            deepest_ = std::max(deepest_, depth + seen->height);
            return;
        }
        const std::size_t values_before = nodes_;
        const int deepest_before = deepest_;
        deepest_ = depth;
        count(node, 1);
        switch (node.Type()) {
            case YAML::NodeType::Scalar:
                check_scalar(node);
                break;
            case YAML::NodeType::Sequence:
                for (const auto& item : node) walk(item, depth + 1);
                break;
            case YAML::NodeType::Map:
                for (const auto& kv : node) {
                    if (!kv.first.IsScalar())
                        throw ConfigError(name_, line_of(kv.first), "a key must be a plain value, not a list or a mapping");
                    walk(kv.first, depth + 1);
                    walk(kv.second, depth + 1);
                }
                break;
            default:
                break;
        }
        if (nodes_ - values_before >= kRememberFrom) remember(node, nodes_ - values_before, deepest_ - depth);
        deepest_ = std::max(deepest_, deepest_before);
    }

private:
    // Smaller collections are walked again when met again: that costs less than
    // remembering every one of them in a large document.
    static constexpr std::size_t kRememberFrom = 64;

    // What a collection added to the walk the first time: its values, itself included,
    // and how many levels it goes below itself.
    struct Walked {
        YAML::Node node;
        std::size_t values;
        int height;
    };

    [[noreturn]] void too_deep(const YAML::Node& node) const {
        throw ConfigError(name_, line_of(node), "nesting is deeper than " + std::to_string(kMaxConfigDepth) + " levels");
    }

    void count(const YAML::Node& node, std::size_t values) {
        nodes_ += values;
        if (nodes_ > kMaxConfigNodes)
            throw ConfigError(name_, line_of(node),
                              "the document expands to more than " + std::to_string(kMaxConfigNodes) +
                                  " values (anchors and aliases nested too deep?)");
    }

    // yaml-cpp does not expose a node's identity, only is(); the position and the kind
    // find the candidate, and is() confirms that it is the same node, not a neighbour.
    static std::pair<int, int> key_of(const YAML::Node& node) {
        return {node.Mark().pos, static_cast<int>(node.Type())};
    }

    const Walked* walked_before(const YAML::Node& node) const {
        if (!node.IsSequence() && !node.IsMap()) return nullptr;
        auto it = walked_.find(key_of(node));
        return it != walked_.end() && it->second.node.is(node) ? &it->second : nullptr;
    }

    void remember(const YAML::Node& node, std::size_t values, int height) {
        walked_.try_emplace(key_of(node), Walked{node, values, height});
    }

    void check_scalar(const YAML::Node& node) {
        // The file is UTF-8, but an escape ("\U0011FFFF") can still make a value that is not.
        if (!is_valid_utf8(node.Scalar()))
            throw ConfigError(name_, line_of(node), "a value is not UTF-8 text (check its escapes)");
        const int pos = node.Mark().pos;
        if (pos < 0 || static_cast<std::size_t>(pos) >= text_.size()) return;
        const char c = text_[static_cast<std::size_t>(pos)];
        if ((c == '\'' || c == '"') && node.Tag() == "!" && !quote_is_closed(text_, static_cast<std::size_t>(pos)))
            throw ConfigError(name_, line_of(node), std::string("unclosed quote: the value starting with ") + c +
                                                        " has no closing " + c);
    }

    const std::string& name_;
    const std::string& text_;
    std::size_t nodes_ = 0;  // values so far, every alias expanded
    int deepest_ = 0;        // the deepest level reached below the collection being walked
    std::map<std::pair<int, int>, Walked> walked_;
};

}  // namespace

std::optional<YAML::Node> load_yaml_text(const std::string& text, const std::string& name) {
    // YAML is UTF-8 text (ours, at least): bytes that are not would reach host names,
    // Message-Ids and answers.
    if (const std::size_t bad = first_invalid_utf8(text); bad != std::string::npos) {
        const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(bad), '\n');
        throw ConfigError(name, static_cast<int>(line), "not UTF-8 text (byte " + std::to_string(bad + 1) + ")");
    }
    try {
        YAML::Node doc = YAML::Load(text);
        if (doc.IsNull()) return std::nullopt;
        DocumentCheck(name, text).walk(doc, 0);
        return doc;
    } catch (const YAML::Exception& e) {
        throw ConfigError(name, e.mark.line >= 0 ? e.mark.line + 1 : 0, e.msg);
    }
}

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
    return load_yaml_text(buffer.str(), path);
}

namespace {

boost::json::value plain_scalar(const std::string& s) {
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    std::int64_t i = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
    if (ec == std::errc{} && p == s.data() + s.size()) return i;
    // from_chars also reads "nan" and "inf", which JSON cannot hold: those stay text.
    double d = 0;
    auto [p2, ec2] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (ec2 == std::errc{} && p2 == s.data() + s.size() && std::isfinite(d)) return d;
    return boost::json::string(s);
}

boost::json::value convert(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Scalar:
            if (node.Tag() == "!") return boost::json::string(node.Scalar());
            return plain_scalar(node.Scalar());
        case YAML::NodeType::Sequence: {
            boost::json::array a;
            for (const auto& item : node) a.push_back(convert(item));
            return a;
        }
        case YAML::NodeType::Map: {
            boost::json::object o;
            for (const auto& kv : node) o[kv.first.Scalar()] = convert(kv.second);
            return o;
        }
        default:
            return nullptr;
    }
}

}  // namespace

boost::json::value yaml_to_json(const YAML::Node& node) { return convert(node); }

}  // namespace haineko
