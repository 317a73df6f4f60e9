#include "config/plugin_settings.hpp"

#include <boost/json/array.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/reader.hpp"
#include "core/text.hpp"

namespace haineko {

namespace {

namespace fs = std::filesystem;

constexpr std::uintmax_t kMaxPluginFile = 1024 * 1024;  // a plugin is a short script
constexpr std::size_t kMaxPlugins = 256;

// A name is a file name without its ".lua": no path, nothing hidden, nothing odd.
bool plugin_name_ok(const std::string& name) {
    if (name.empty() || name.size() > 128 || name.front() == '.') return false;
    for (char c : name)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
    return true;
}

std::string read_plugin_file(const std::string& path, const std::string& origin_file, int line) {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (ec) throw ConfigError(origin_file, line, "cannot read the plugin file " + path + ": " + ec.message());
    if (size > kMaxPluginFile)
        throw ConfigError(origin_file, line, "the plugin file " + path + " is larger than 1 MiB");
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in && !in.eof()) throw ConfigError(origin_file, line, "cannot read the plugin file " + path);
    return text.str();
}

double timeout_of(const Reader& r) {
    if (!r.has("timeout")) return 30;
    const YAML::Node n = r.node("timeout");
    double v = 0;
    try {
        v = n.as<double>();
    } catch (const YAML::Exception&) {
        r.fail(n, "timeout must be a number of seconds");
    }
    if (!(v > 0 && v <= 3600)) r.fail(n, "timeout must be more than 0 and at most 3600 seconds");
    return v;
}

void read_plugin_yaml(PluginFile& p, const std::string& path, const std::string& root) {
    auto doc = load_yaml_file(path);
    if (!doc) return;
    if (!doc->IsMap()) throw ConfigError(path, line_of(*doc), "a plugin's settings are a mapping");
    Reader r(path, *doc);
    const std::string on_error = r.text("on_error", "denysoft");
    if (on_error != "denysoft" && on_error != "cont") r.fail(r.node("on_error"), "on_error must be 'denysoft' or 'cont'");
    p.on_error_cont = on_error == "cont";
    p.timeout = timeout_of(r);
    p.max_instructions = r.integer("max_instructions", 10'000'000, 1000, 10'000'000'000LL);
    p.output = r.text("output", "");
    if (!p.output.empty() && p.output[0] != '/') p.output = root + "/" + p.output;
    p.config = yaml_to_json(*doc).as_object();
}

PluginFile plugin_named(const Config& config, const std::string& name, const std::string& list_path, int line) {
    if (!plugin_name_ok(name))
        throw ConfigError(list_path, line, "'" + name + "' is not a plugin name (letters, digits, '.', '_' and '-')");
    PluginFile p;
    p.name = name;
    p.origin = list_path + ":" + std::to_string(line);
    const std::string own = config.plugins.dir + "/" + name + ".lua";
    std::error_code ec;
    if (fs::exists(own, ec)) {
        p.path = own;
        p.code = read_plugin_file(own, list_path, line);
    }
    read_plugin_yaml(p, config.options.root + "/etc/plugins.d/" + name + ".yaml", config.options.root);
    return p;
}

void load_memory_cap(Config& config, const YAML::Node& top, const std::string& file) {
    if (!top.IsMap() || !top["plugins"] || top["plugins"].IsNull()) return;
    const YAML::Node section = top["plugins"];
    if (!section.IsMap()) throw ConfigError(file, line_of(section), "plugins must be a mapping");
    Reader r(file, section);
    config.plugins.memory_mb = r.integer("memory_mb", 64, 4, 65536);
}

}  // namespace

void load_plugin_settings(Config& config, const YAML::Node& top, const std::string& file) {
    load_memory_cap(config, top, file);
    config.plugins.dir = config.options.root + "/plugins";
    const std::string list_path = config.options.root + "/etc/plugins";
    std::error_code ec;
    if (!fs::exists(list_path, ec)) return;  // no file: no plugins
    const std::string text = read_plugin_file(list_path, list_path, 1);
    std::istringstream lines(text);
    std::string line;
    int number = 0;
    while (std::getline(lines, line)) {
        ++number;
        if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
        const std::string name(trim(line));
        if (name.empty()) continue;
        for (const auto& p : config.plugins.list)
            if (p.name == name) throw ConfigError(list_path, number, "the plugin " + name + " is listed twice");
        if (config.plugins.list.size() >= kMaxPlugins) throw ConfigError(list_path, number, "more than 256 plugins");
        config.plugins.list.push_back(plugin_named(config, name, list_path, number));
    }
}

boost::json::object plugins_conf_json(const Config& config) {
    boost::json::array list;
    for (const auto& p : config.plugins.list)
        list.push_back(boost::json::object{{"name", p.name},
                                           {"file", p.path.empty() ? "(bundled)" : p.path},
                                           {"on_error", p.on_error_cont ? "cont" : "denysoft"},
                                           {"timeout", p.timeout},
                                           {"max_instructions", p.max_instructions},
                                           {"output", p.output.empty() ? boost::json::value(nullptr) : boost::json::value(p.output)}});
    return boost::json::object{{"memory_mb", config.plugins.memory_mb}, {"list", std::move(list)}};
}

}  // namespace haineko
