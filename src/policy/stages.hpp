// The checks of a submission, one function per SMTP stage, in SMTP order (Postfix's
// smtpd_check.c has one per stage too): connect, ehlo, mail, rcpt and data. Every intake
// calls these same functions (HTTP /submit today; /v1 and SMTP next), so one policy
// decides. Each returns the refusal as a named reply (its id says which), or nothing.
// How a refusal is answered (an HTTP status, an SMTP code) is the intake's business.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "core/reply.hpp"
#include "core/submission.hpp"

namespace haineko {

// connect: the client's address must be in relayhosts, unless it authenticated or the
// server is an open relay (auth/access-denied).
std::optional<Reply> connect_refusal(const Config& config, const std::string& client_address, bool authenticated);

// The X-Haineko-Loop hops must not hold this server (conn/detect-loop).
std::optional<Reply> loop_refusal(const Config& config, const std::vector<std::string>& hops);

// ehlo: a host name with a dot and an alphabetic TLD, or an IPv4 literal.
std::optional<Reply> ehlo_refusal(std::string_view ehlo);

// mail: an ASCII address within RFC 5321's lengths.
std::optional<Reply> mail_refusal(std::string_view mail);

// The addresses in From and Reply-To go into headers as they are: ASCII, and within
// RFC 5321's lengths (so no header line passes 998 octets).
std::optional<Reply> header_address_refusal(const HeaderFields& header);

// rcpt, before any: at least one, at most max_rcpts_per_message.
std::optional<Reply> rcpt_count_refusal(const Config& config, std::size_t count);

// rcpt, each: an ASCII address that recipients permits (its rcpt is set).
std::optional<Reply> rcpt_refusal(const Config& config, const std::string& rcpt);

// rcpt on an inbound listener (etc/inbound): a domain of ours and an address it has. The
// postmaster (bare, or at a domain of ours) is always taken (RFC 5321 4.5.1).
enum class InboundRcpt { taken, not_ours, unknown_user, ask_backend };
InboundRcpt inbound_rcpt(const Config& config, const std::string& rcpt);
// The etc/inbound entry of the address's domain, or null.
const InboundDomain* inbound_domain(const Config& config, const std::string& rcpt);

// data: a body within max_message_size and a subject; max_workers a number when there
// are several recipients (as the original read it only then).
std::optional<Reply> data_refusal(const Config& config, const Submission& submission);

}  // namespace haineko
