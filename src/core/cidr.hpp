// IPv4 and IPv6 networks: "192.0.2.0/24", "2001:db8::/32", or a single address.
#pragma once
#include <boost/asio/ip/address.hpp>
#include <optional>
#include <string_view>
#include <vector>

namespace haineko {

class Cidr {
public:
    static std::optional<Cidr> parse(std::string_view text);
    bool contains(const boost::asio::ip::address& addr) const;

private:
    boost::asio::ip::address network_;
    unsigned prefix_ = 0;
};

// Parses an address; an IPv4-mapped IPv6 address comes back as IPv4.
std::optional<boost::asio::ip::address> parse_ip(std::string_view text);

bool any_contains(const std::vector<Cidr>& networks, const boost::asio::ip::address& addr);

}  // namespace haineko
