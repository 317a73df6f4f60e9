#include "config/inbound_table.hpp"

#include "config/reader.hpp"
#include "config/yaml_file.hpp"
#include "core/text.hpp"

namespace haineko {

namespace {

void read_recipients(InboundDomain& d, const std::string& path, const std::string& domain, const YAML::Node& node) {
    if (!node || node.IsNull()) return;
    if (node.IsScalar()) {
        if (node.Scalar() != "backend")
            throw ConfigError(path, line_of(node), "recipients of " + domain + " is a list, or 'backend'");
        d.recipients = InboundDomain::Recipients::backend;
        return;
    }
    if (!node.IsSequence()) throw ConfigError(path, line_of(node), "recipients of " + domain + " is a list, or 'backend'");
    d.recipients = InboundDomain::Recipients::listed;
    for (const auto& item : node) {
        if (!item.IsScalar() || item.Scalar().empty())
            throw ConfigError(path, line_of(item), "each recipient of " + domain + " is a local part or an address");
        const std::string value = to_lower(item.Scalar());
        const auto at = value.rfind('@');
        if (at == std::string::npos) d.local_parts.insert(value);
        else d.addresses.insert(value);
    }
}

}  // namespace

void load_inbound_table(Config& config, const std::string& path, TableFile& table) {
    auto doc = load_yaml_file(path);
    if (!doc) return;
    if (!doc->IsMap()) throw ConfigError(path, line_of(*doc), "inbound is a mapping of domains to routes");
    table.path = path;
    table.data = yaml_to_json(*doc);
    for (const auto& kv : *doc) {
        const std::string domain = to_lower(kv.first.Scalar());
        if (domain.empty() || domain.find('@') != std::string::npos)
            throw ConfigError(path, line_of(kv.first), "'" + kv.first.Scalar() + "' is not a domain");
        InboundDomain d;
        d.route = parse_route(path, domain, kv.second, config.options);
        read_recipients(d, path, domain, kv.second["recipients"]);
        config.inbound[domain] = std::move(d);
    }
}

}  // namespace haineko
