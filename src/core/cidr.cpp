#include "core/cidr.hpp"

#include <charconv>
#include <string>

namespace haineko {
namespace {

boost::asio::ip::address unmap(const boost::asio::ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
    return a;
}

template <class Bytes>
bool prefix_matches(const Bytes& a, const Bytes& b, unsigned prefix) {
    unsigned full = prefix / 8, rest = prefix % 8;
    for (unsigned i = 0; i < full; ++i)
        if (a[i] != b[i]) return false;
    if (rest == 0) return true;
    unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}

}  // namespace

std::optional<boost::asio::ip::address> parse_ip(std::string_view text) {
    boost::system::error_code ec;
    auto addr = boost::asio::ip::make_address(std::string(text), ec);
    if (ec) return std::nullopt;
    return unmap(addr);
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    auto slash = text.find('/');
    auto addr = parse_ip(text.substr(0, slash));
    if (!addr) return std::nullopt;
    Cidr out;
    out.network_ = *addr;
    unsigned max = addr->is_v4() ? 32 : 128;
    out.prefix_ = max;
    if (slash != std::string_view::npos) {
        auto digits = text.substr(slash + 1);
        unsigned p = 0;
        auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), p);
        if (ec != std::errc{} || ptr != digits.data() + digits.size() || digits.empty() || p > max)
            return std::nullopt;
        out.prefix_ = p;
    }
    return out;
}

bool Cidr::contains(const boost::asio::ip::address& raw) const {
    auto addr = unmap(raw);
    if (addr.is_v4() != network_.is_v4()) return false;
    if (addr.is_v4()) return prefix_matches(addr.to_v4().to_bytes(), network_.to_v4().to_bytes(), prefix_);
    return prefix_matches(addr.to_v6().to_bytes(), network_.to_v6().to_bytes(), prefix_);
}

bool any_contains(const std::vector<Cidr>& networks, const boost::asio::ip::address& addr) {
    for (const auto& n : networks)
        if (n.contains(addr)) return true;
    return false;
}

}  // namespace haineko
