// Address and network parsers: Cidr::parse and parse_ip, the envelope address checks
// (is_email_address, is_email_address_allowing_utf8), is_valid_ehlo, address_in and
// domain_of. The input is one string; the part after the first LF, if any, is a second
// string (an address to test against the network).
#include <cstdint>

#include "core/address.hpp"
#include "fuzz_support.hpp"
#include "core/cidr.hpp"

using namespace haineko;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input = fuzz::as_text(data, size);
    const size_t lf = input.find('\n');
    const std::string_view s = input.substr(0, lf);
    const std::string_view other = lf == std::string_view::npos ? std::string_view() : input.substr(lf + 1);

    // Addresses
    const bool ascii_ok = is_email_address(s);
    const bool utf8_ok = is_email_address_allowing_utf8(s);
    if (ascii_ok) {
        FUZZ_CHECK(!has_non_ascii(s), "an address with a non-ASCII byte passes is_email_address");
        FUZZ_CHECK(utf8_ok, "an ASCII address fails the UTF-8 check");
        FUZZ_CHECK(within_length_limits(s) && s.size() <= 254, "an address over RFC 5321's lengths");
        const size_t at = s.rfind('@');
        FUZZ_CHECK(at != std::string_view::npos && at > 0 && at + 1 < s.size(), "an address without local@domain");
        for (unsigned char c : s) FUZZ_CHECK(c >= 0x20 && c != 0x7f, "an address with a control character");
        // No address may end the SMTP path or start ESMTP parameters: MAIL FROM:<addr>.
        const std::string_view domain = s.substr(at + 1);
        FUZZ_CHECK(s.find_first_of("\r\n") == std::string_view::npos, "an address with CR or LF");
        FUZZ_CHECK(domain_of(s) == to_lower(domain), "domain_of is not the part after the last @");
        FUZZ_CHECK(s.find_first_of("<>") == std::string_view::npos, "an address with < or >");
        FUZZ_CHECK(address_in(s) == s, "address_in changes a bare address");
        const std::string wrapped = "Kijitora <" + std::string(s) + ">";
        FUZZ_CHECK(address_in(wrapped) == s, "address_in does not find the address in Name <addr>");
    }
    if (utf8_ok && !has_non_ascii(s)) FUZZ_CHECK(ascii_ok, "an ASCII address passes only the UTF-8 check");

    // EHLO
    if (is_valid_ehlo(s)) {
        FUZZ_CHECK(!s.empty() && s.size() <= 255, "EHLO length");
        for (unsigned char c : s)
            FUZZ_CHECK(std::isalnum(c) || c == '-' || c == '.' || c == '[' || c == ']', "EHLO with a byte outside [-.0-9A-Za-z[]]");
    }
    (void)domain_of(s);
    (void)address_in(s);

    // Networks
    if (auto net = Cidr::parse(s)) {
        // A network contains its own address.
        std::string_view text = s;
        while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
        while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
        auto base = parse_ip(text.substr(0, text.find('/')));
        FUZZ_CHECK(base.has_value(), "a parsed network whose address does not parse");
        FUZZ_CHECK(net->contains(*base), "a network does not contain its own address");
        if (auto ip = parse_ip(other)) {
            (void)net->contains(*ip);
            FUZZ_CHECK(any_contains({*net}, *ip) == net->contains(*ip), "any_contains disagrees with contains");
        }
    }
    if (auto ip = parse_ip(s)) {
        FUZZ_CHECK(!(ip->is_v6() && ip->to_v6().is_v4_mapped()), "parse_ip keeps an IPv4-mapped address");
        auto again = parse_ip(ip->to_string());
        FUZZ_CHECK(again && *again == *ip, "an address does not survive to_string and back");
        auto host = Cidr::parse(ip->to_string());
        FUZZ_CHECK(host && host->contains(*ip), "an address is not a network of one");
    }
    return 0;
}
