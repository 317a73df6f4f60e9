#include "relay/route_check.hpp"

#include <algorithm>
#include <filesystem>

namespace haineko {
namespace {

std::string names_text() {
    std::string out;
    for (const auto& n : mailer_names()) out += (out.empty() ? "" : ", ") + n;
    return out;
}

void check(const Route& route, const char* table, const Config& config, std::vector<std::string>& problems) {
    // "FILE:LINE: mailertable route 'example.jp': ..."
    const auto at = [&](const std::string& origin) {
        return origin + ": " + table + " route '" + route.key + "'";
    };
    const auto& names = mailer_names();
    if (std::find(names.begin(), names.end(), route.mailer) == names.end()) {
        problems.push_back(at(route.mailer_origin) + ": unknown mailer '" + route.mailer + "'; mailers are " +
                           names_text() + " (names are case-sensitive)");
    }
    if (!route.auth.empty() && !config.authinfo.count(route.auth)) {
        problems.push_back(at(route.auth_origin) + ": auth '" + route.auth +
                           "' is not in authinfo; mail on this route will fail with 530 5.7.0 until it is");
    }
    if (route.mailer == "File" && !route.path.empty()) {
        std::error_code ec;
        if (!std::filesystem::is_directory(route.path, ec))
            problems.push_back(at(route.origin) + ": the File directory " + route.path + " does not exist");
    }
}

}  // namespace

const std::vector<std::string>& mailer_names() {
    static const std::vector<std::string> names{"ESMTP",    "MX",        "Haineko",  "SendGrid", "AmazonSES", "Mandrill",
                                                "Postmark", "Mailgun",   "Discard",  "Screen",   "File",
                                                "LMTP"};
    return names;
}

std::vector<std::string> route_problems(const Config& config) {
    std::vector<std::string> problems;
    for (const auto& [key, route] : config.mailertable) check(route, "mailertable", config, problems);
    for (const auto& [key, route] : config.sendermt) check(route, "sendermt", config, problems);
    for (const auto& [domain, d] : config.inbound) {
        check(d.route, "inbound", config, problems);
        // The RCPT probe speaks SMTP or LMTP to the route's own host.
        if (d.recipients == InboundDomain::Recipients::backend && d.route.mailer != "ESMTP" && d.route.mailer != "LMTP")
            problems.push_back(d.route.origin + ": inbound route '" + domain +
                               "': recipients 'backend' asks the route's server, so its mailer must be ESMTP or LMTP");
    }
    return problems;
}

}  // namespace haineko
