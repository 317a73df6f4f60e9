// Reads typed values out of one YAML map of a config file, naming the file and line when
// one is wrong (ConfigError, "FILE:LINE: problem").
#pragma once
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/yaml_file.hpp"
#include "core/text.hpp"

namespace haineko {

class Reader {
public:
    Reader(std::string file, YAML::Node map) : file_(std::move(file)), map_(std::move(map)) {}

    bool has(const char* key) const { return map_.IsMap() && map_[key] && !map_[key].IsNull(); }
    YAML::Node node(const char* key) const { return map_[key]; }
    const std::string& file() const { return file_; }

    std::string text(const char* key, std::string fallback) const {
        if (!has(key)) return fallback;
        auto n = map_[key];
        if (!n.IsScalar()) fail(n, std::string(key) + " must be a string");
        return n.Scalar();
    }

    long long integer(const char* key, long long fallback, long long min, long long max) const {
        if (!has(key)) return fallback;
        auto n = map_[key];
        auto v = as_integer(n);
        if (!v) fail(n, std::string(key) + " must be a whole number");
        if (*v < min || *v > max)
            fail(n, std::string(key) + " must be between " + std::to_string(min) + " and " + std::to_string(max));
        return *v;
    }

    bool flag(const char* key, bool fallback) const {
        if (!has(key)) return fallback;
        auto n = map_[key];
        if (n.IsScalar()) {
            std::string s = to_lower(n.Scalar());
            if (s == "1" || s == "true" || s == "yes" || s == "on") return true;
            if (s == "0" || s == "false" || s == "no" || s == "off" || s.empty()) return false;
        }
        fail(n, std::string(key) + " must be 0 or 1");
    }

    NumberSetting number(const char* key, long long fallback) const {
        if (!has(key)) return {fallback, true};
        auto v = as_integer(map_[key]);
        if (!v || *v < 0) return {fallback, false};
        return {*v, true};
    }

    std::vector<std::string> strings(const char* key) const {
        std::vector<std::string> out;
        if (!has(key)) return out;
        auto n = map_[key];
        if (n.IsScalar()) return {n.Scalar()};
        if (!n.IsSequence()) fail(n, std::string(key) + " must be a list");
        for (const auto& item : n) {
            if (!item.IsScalar()) fail(item, std::string(key) + " must be a list of strings");
            out.push_back(item.Scalar());
        }
        return out;
    }

    [[noreturn]] void fail(const YAML::Node& n, const std::string& problem) const {
        throw ConfigError(file_, line_of(n), problem);
    }

    static std::optional<long long> as_integer(const YAML::Node& n) {
        if (!n.IsScalar()) return std::nullopt;
        const std::string& s = n.Scalar();
        long long v = 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc{} || p != s.data() + s.size() || s.empty()) return std::nullopt;
        return v;
    }

private:
    std::string file_;
    YAML::Node map_;
};

}  // namespace haineko
