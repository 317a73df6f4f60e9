#include "policy/stages.hpp"

#include <algorithm>

#include "core/address.hpp"
#include "core/text.hpp"
#include "policy/access.hpp"

namespace haineko {
namespace {

Reply refusal(std::string_view group, std::string_view name, std::string cause = {}) {
    Reply r = named_reply(group, name);
    r.cause = std::move(cause);
    return r;
}

std::optional<Reply> header_address(const std::string& value, const char* header) {
    if (value.empty()) return std::nullopt;
    const std::string address = address_in(value);
    if (address.find('@') == std::string::npos) return std::nullopt;
    if (has_non_ascii(address))
        return refusal("mail", "non-ascii", std::string("the address in header.") + header + " is not ASCII");
    if (!within_length_limits(address))
        return refusal("mail", "address-too-long",
                       std::string("the address in header.") + header + " is " + std::to_string(address.size()) +
                           " octets, past RFC 5321's limits");
    return std::nullopt;
}

}  // namespace

std::optional<Reply> connect_refusal(const Config& config, const std::string& client_address, bool authenticated) {
    if (relay_permitted(config, client_address, authenticated)) return std::nullopt;
    return refusal("auth", "access-denied", "client " + client_address + " is not in relayhosts");
}

std::optional<Reply> loop_refusal(const Config& config, const std::vector<std::string>& hops) {
    // This node's id, or this host's bare name (as the original wrote it).
    for (const auto& hop : hops)
        if (hop == config.node_id || hop == config.smtpd.hostname)
            return refusal("conn", "detect-loop", "X-Haineko-Loop already holds " + hop + " (this server)");
    return std::nullopt;
}

std::optional<Reply> ehlo_refusal(std::string_view ehlo) {
    if (ehlo.empty()) return refusal("ehlo", "require-domain");
    if (!is_valid_ehlo(ehlo)) return refusal("ehlo", "invalid-domain");
    return std::nullopt;
}

std::optional<Reply> mail_refusal(std::string_view mail) {
    if (mail.empty()) return refusal("mail", "syntax-error");
    if (is_email_address(mail)) return std::nullopt;
    if (has_non_ascii(mail) && is_email_address_allowing_utf8(mail)) return refusal("mail", "non-ascii");
    return refusal("mail", "domain-required");
}

std::optional<Reply> header_address_refusal(const HeaderFields& header) {
    if (auto r = header_address(header.from, "from")) return r;
    return header_address(header.replyto, "replyto");
}

std::optional<Reply> rcpt_count_refusal(const Config& config, std::size_t count) {
    if (count == 0) return refusal("rcpt", "address-required");
    const auto& max_rcpts = config.smtpd.max_rcpts_per_message;
    if (!max_rcpts.valid) return refusal("conf", "not-looks-like-number", "max_rcpts_per_message is not a number");
    if (max_rcpts.value > 0 && static_cast<long long>(count) > max_rcpts.value)
        return refusal("rcpt", "too-many-recipients");
    return std::nullopt;
}

std::optional<Reply> rcpt_refusal(const Config& config, const std::string& rcpt) {
    std::optional<Reply> refused;
    if (!is_email_address(rcpt)) {
        const bool only_non_ascii = has_non_ascii(rcpt) && is_email_address_allowing_utf8(rcpt);
        refused = only_non_ascii ? refusal("mail", "non-ascii") : refusal("rcpt", "is-not-emailaddress");
    } else if (!recipient_permitted(config, rcpt)) {
        refused = refusal("rcpt", "rejected", "the domain " + domain_of(rcpt) + " (and the address) is not in recipients");
    }
    if (refused) refused->rcpt = rcpt;
    return refused;
}

const InboundDomain* inbound_domain(const Config& config, const std::string& rcpt) {
    const auto at = rcpt.rfind('@');
    if (at == std::string::npos) return nullptr;
    auto it = config.inbound.find(to_lower(rcpt.substr(at + 1)));
    return it == config.inbound.end() ? nullptr : &it->second;
}

InboundRcpt inbound_rcpt(const Config& config, const std::string& rcpt) {
    const std::string address = to_lower(rcpt);
    if (address == "postmaster") return InboundRcpt::taken;
    const auto at = address.rfind('@');
    if (at == std::string::npos) return InboundRcpt::not_ours;
    auto it = config.inbound.find(address.substr(at + 1));
    if (it == config.inbound.end()) return InboundRcpt::not_ours;
    const InboundDomain& d = it->second;
    const std::string local = address.substr(0, at);
    if (local == "postmaster") return InboundRcpt::taken;
    switch (d.recipients) {
    case InboundDomain::Recipients::any: return InboundRcpt::taken;
    case InboundDomain::Recipients::backend: return InboundRcpt::ask_backend;
    case InboundDomain::Recipients::listed:
        return d.local_parts.count(local) || d.addresses.count(address) ? InboundRcpt::taken : InboundRcpt::unknown_user;
    }
    return InboundRcpt::not_ours;
}

std::optional<Reply> data_refusal(const Config& config, const Submission& s) {
    if (s.body.empty()) return refusal("data", "empty-body");
    const auto& max_size = config.smtpd.max_message_size;
    if (!max_size.valid) return refusal("conf", "not-looks-like-number", "max_message_size is not a number");
    if (max_size.value > 0 && static_cast<long long>(s.body.size()) > max_size.value)
        return refusal("data", "mesg-too-big");
    if (s.header.subject.empty()) return refusal("data", "empty-subject");
    if (s.rcpt.size() > 1 && !config.smtpd.max_workers.valid)
        return refusal("conf", "not-looks-like-number", "max_workers is not a number");
    return std::nullopt;
}

}  // namespace haineko
