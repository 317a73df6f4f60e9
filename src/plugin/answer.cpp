#include "plugin/answer.hpp"

namespace haineko::plugin {

const char* hook_name(Hook h) {
    static const char* const names[kHookCount] = {"connect", "ehlo",      "auth",     "mail",      "rcpt",
                                                  "data",    "data_post", "queue",    "disconnect", "get_route",
                                                  "delivered", "deferred", "bounce", "reset_transaction"};
    return names[static_cast<int>(h)];
}

const char* answer_name(Answer a) {
    switch (a) {
    case Answer::cont: return "cont";
    case Answer::ok: return "ok";
    case Answer::deny: return "deny";
    case Answer::denysoft: return "denysoft";
    case Answer::deny_disconnect: return "denydisconnect";
    case Answer::denysoft_disconnect: return "denysoftdisconnect";
    }
    return "cont";
}

int Result::smtp_code() const {
    if (code) return code;
    if (!failure.empty()) return 451;
    if (temporary()) return 451;
    if (hook == Hook::connect) return 554;
    if (hook == Hook::auth) return 535;
    return 550;
}

std::string Result::smtp_dsn() const {
    if (!dsn.empty()) return dsn;
    if (!failure.empty()) return "4.3.0";
    if (temporary()) return "4.7.1";
    if (hook == Hook::auth && !code) return "5.7.8";
    // An enhanced code agrees with the reply's class (RFC 3463 2).
    return (smtp_code() / 100 == 4) ? "4.7.1" : "5.7.1";
}

std::string Result::smtp_text() const {
    if (!text.empty()) return text;
    if (!failure.empty()) return "Error: a plugin failed, try again later";
    return temporary() ? "Try again later" : "Rejected by policy";
}

std::string Result::smtp_reply() const {
    return std::to_string(smtp_code()) + " " + smtp_dsn() + " " + smtp_text() + "\r\n";
}

}  // namespace haineko::plugin
