#include "config/smtp_settings.hpp"

#include <boost/json/array.hpp>

#include <algorithm>
#include <charconv>
#include <fstream>

#include "config/reader.hpp"
#include "core/cidr.hpp"
#include "core/text.hpp"

namespace haineko {

std::optional<std::pair<std::string, unsigned short>> split_listen_address(const std::string& text) {
    std::string host, port;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
        if (!parse_ip(host) || !parse_ip(host)->is_v6()) return std::nullopt;
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string::npos || text.find(':') != colon) return std::nullopt;
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    unsigned number = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (host.empty() || port.empty() || ec != std::errc{} || p != port.data() + port.size() || number > 65535)
        return std::nullopt;
    return std::make_pair(host, static_cast<unsigned short>(number));
}

namespace {

std::string under_root(const Config& config, const std::string& path) {
    if (path.empty() || path[0] == '/') return path;
    return config.options.root + "/" + path;
}

SmtpListener listener_from(const YAML::Node& node, const std::string& file) {
    if (!node.IsMap()) throw ConfigError(file, line_of(node), "each smtp.listen entry must be a mapping with an address");
    Reader r(file, node);
    SmtpListener l;
    l.origin = where(file, node);
    l.address = r.text("address", "");
    auto split = split_listen_address(l.address);
    if (!split)
        r.fail(r.has("address") ? r.node("address") : node,
               "smtp.listen address must be host:port or [IPv6]:port: '" + l.address + "'");
    l.host = split->first;
    l.port = split->second;
    const std::string mode = r.text("mode", "relay");
    if (mode != "relay" && mode != "submission" && mode != "inbound")
        r.fail(r.node("mode"), "mode must be 'relay', 'submission' or 'inbound'");
    l.submission = mode == "submission";
    l.inbound = mode == "inbound";
    l.tls_given = r.has("tls");
    const std::string tls = r.text("tls", "none");
    if (tls == "none") l.tls = SmtpListener::Tls::none;
    else if (tls == "starttls") l.tls = SmtpListener::Tls::starttls;
    else if (tls == "implicit") l.tls = SmtpListener::Tls::implicit;
    else r.fail(r.node("tls"), "tls must be 'none', 'starttls' or 'implicit'");
    return l;
}

void require_readable(const Reader& r, const YAML::Node& where_node, const char* key, const std::string& path) {
    std::ifstream in(path);
    if (!in) r.fail(where_node, std::string("smtp.") + key + " cannot be read: " + path);
}

}  // namespace

void load_smtp_settings(Config& config, const YAML::Node& top, const std::string& file) {
    SmtpSettings& s = config.smtp;
    YAML::Node node;
    if (top.IsMap() && top["smtp"] && !top["smtp"].IsNull()) {
        node = top["smtp"];
        if (!node.IsMap()) throw ConfigError(file, line_of(node), "smtp must be a mapping");
        Reader r(file, node);
        if (r.has("listen")) {
            const YAML::Node list = r.node("listen");
            if (!list.IsSequence()) r.fail(list, "smtp.listen must be a list of listeners");
            for (const auto& item : list) s.listen.push_back(listener_from(item, file));
        }
        s.tls_cert = under_root(config, r.text("tls_cert", ""));
        s.tls_key = under_root(config, r.text("tls_key", ""));
        s.command_timeout = static_cast<int>(r.integer("command_timeout", 300, 1, 86400));
        s.data_timeout = static_cast<int>(r.integer("data_timeout", 600, 1, 86400));
        s.max_rcpts_per_transaction = static_cast<int>(r.integer("max_rcpts_per_transaction", 100, 1, 100000));
        s.auth_requires_tls = r.flag("auth_requires_tls", true);
        s.received_auth_user = r.flag("received_auth_user", false);
        s.greet_pause = static_cast<int>(r.integer("greet_pause", 100, 0, 60000));
        bool wants_tls = false;
        for (const auto& l : s.listen) wants_tls = wants_tls || l.tls != SmtpListener::Tls::none;
        if (wants_tls && (s.tls_cert.empty() || s.tls_key.empty()))
            r.fail(node, "a listener with tls needs smtp.tls_cert and smtp.tls_key");
        if (!s.tls_cert.empty()) require_readable(r, r.node("tls_cert"), "tls_cert", s.tls_cert);
        if (!s.tls_key.empty()) require_readable(r, r.node("tls_key"), "tls_key", s.tls_key);
        // An inbound listener offers STARTTLS whenever there is a certificate, unless its
        // own tls key says otherwise: senders on the internet expect it.
        if (!s.tls_cert.empty() && !s.tls_key.empty())
            for (auto& l : s.listen)
                if (l.inbound && !l.tls_given) l.tls = SmtpListener::Tls::starttls;
    }
    for (const auto& text : config.options.smtp_listen) {
        // restart repeats the running server's flags before its own: one listener each.
        if (std::any_of(s.listen.begin(), s.listen.end(), [&](const SmtpListener& l) { return l.address == text; }))
            continue;
        auto split = split_listen_address(text);
        if (!split) throw ConfigError("--smtp", 0, "must be host:port or [IPv6]:port: '" + text + "'");
        s.listen.push_back(SmtpListener{text, split->first, split->second, false, false, SmtpListener::Tls::none, "--smtp"});
    }
}

boost::json::object smtp_conf_json(const Config& config) {
    const SmtpSettings& s = config.smtp;
    boost::json::array listen;
    for (const auto& l : s.listen)
        listen.push_back(boost::json::object{
            {"address", l.address},
            {"mode", l.mode_name()},
            {"tls", l.tls_name()}});
    return {{"listen", std::move(listen)},
            {"tls_cert", s.tls_cert},
            {"tls_key", s.tls_key},
            {"command_timeout", s.command_timeout},
            {"data_timeout", s.data_timeout},
            {"max_rcpts_per_transaction", s.max_rcpts_per_transaction},
            {"auth_requires_tls", s.auth_requires_tls ? 1 : 0},
            {"received_auth_user", s.received_auth_user ? 1 : 0},
            {"greet_pause", s.greet_pause}};
}

std::optional<MilterSettings> parse_milter_socket(const std::string& text) {
    MilterSettings m;
    m.socket = text;
    const auto colon = text.find(':');
    if (colon == std::string::npos) return std::nullopt;
    const std::string scheme = to_lower(text.substr(0, colon));
    const std::string rest = text.substr(colon + 1);
    if (scheme == "unix" || scheme == "local") {
        if (rest.empty() || rest[0] != '/' || rest.size() > 100) return std::nullopt;
        m.path = rest;
        return m;
    }
    if (scheme != "inet" && scheme != "inet6") return std::nullopt;
    std::string host, port;
    if (const auto at = rest.find('@'); at != std::string::npos) {  // Sendmail's PORT@HOST
        port = rest.substr(0, at);
        host = rest.substr(at + 1);
        if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    } else {  // Postfix's HOST:PORT
        auto split = split_listen_address(rest);
        if (!split) return std::nullopt;
        host = split->first;
        port = std::to_string(split->second);
    }
    unsigned number = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (host.empty() || ec != std::errc{} || p != port.data() + port.size() || number == 0 || number > 65535)
        return std::nullopt;
    m.host = host;
    m.port = static_cast<unsigned short>(number);
    return m;
}

void load_milter_settings(Config& config, const YAML::Node& top, const std::string& file) {
    if (!top.IsMap() || !top["milters"] || top["milters"].IsNull()) return;
    const YAML::Node list = top["milters"];
    if (!list.IsSequence()) throw ConfigError(file, line_of(list), "milters must be a list");
    for (const auto& node : list) {
        if (!node.IsMap()) throw ConfigError(file, line_of(node), "each milter must be a mapping with a socket");
        Reader r(file, node);
        const std::string socket = r.text("socket", "");
        auto m = parse_milter_socket(socket);
        if (!m)
            r.fail(r.has("socket") ? r.node("socket") : YAML::Node(node),
                   "a milter socket is inet:PORT@HOST, inet:HOST:PORT or unix:/path: '" + socket + "'");
        m->timeout = static_cast<int>(r.integer("timeout", 10, 1, 3600));
        const std::string on_error = r.text("on_error", "tempfail");
        if (on_error == "tempfail") m->on_error = MilterSettings::OnError::tempfail;
        else if (on_error == "accept") m->on_error = MilterSettings::OnError::accept;
        else if (on_error == "reject") m->on_error = MilterSettings::OnError::reject;
        else r.fail(r.node("on_error"), "on_error must be 'tempfail', 'accept' or 'reject'");
        m->origin = where(file, node);
        config.milters.push_back(std::move(*m));
    }
}

boost::json::array milters_conf_json(const Config& config) {
    boost::json::array out;
    for (const auto& m : config.milters) {
        const char* on_error = m.on_error == MilterSettings::OnError::tempfail ? "tempfail"
                               : m.on_error == MilterSettings::OnError::accept ? "accept"
                                                                               : "reject";
        out.push_back(boost::json::object{{"socket", m.socket}, {"timeout", m.timeout}, {"on_error", on_error}});
    }
    return out;
}

}  // namespace haineko
