// Checks on envelope addresses and EHLO names, as the original's RFC5321/RFC5322 helpers.
#pragma once
#include <string>
#include <string_view>

#include "core/text.hpp"  // to_lower, used with addresses everywhere

namespace haineko {

// True when s holds a byte outside US-ASCII.
bool has_non_ascii(std::string_view s);

// An addr-spec: dot-atom or quoted-string local part, "@", dot-atom or domain-literal domain.
// No control characters, no display name, no angle brackets, and within RFC 5321's
// lengths (4.5.3.1): a local part of 64 octets, a domain of 255, a path of 256 (so an
// address of 254).
bool is_email_address(std::string_view s);

// Only the lengths of is_email_address.
bool within_length_limits(std::string_view address);

// Like is_email_address, but a byte outside US-ASCII counts as an atom character:
// true for an address whose only fault is being non-ASCII.
bool is_email_address_allowing_utf8(std::string_view s);

// EHLO argument: a host name with a dot and an alphabetic TLD, or an IPv4 literal with
// or without brackets.
bool is_valid_ehlo(std::string_view s);

// The part after the last "@", lower-cased ("" when there is none).
std::string domain_of(std::string_view address);

// "Name <user@example.org>" -> "user@example.org"; a bare address comes back unchanged;
// lower-cases nothing.
std::string address_in(std::string_view header_value);


}  // namespace haineko
