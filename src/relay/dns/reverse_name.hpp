// The client's verified reverse name (forward-confirmed reverse DNS): a PTR name of its
// address whose own A or AAAA records include that address. What plugins see as
// conn.remote.host (spec/plugins.md); an unverified name is never given, since anyone
// who owns the address block can make its PTR say anything.
#pragma once
#include <boost/asio.hpp>

#include <optional>
#include <string>

namespace haineko::dns {

class Resolver;

// 127.0.0.1 and ::1 are "localhost" without a query. At most three PTR names are tried,
// the whole within `limit`; nullopt when none checks out.
boost::asio::awaitable<std::optional<std::string>> verified_reverse_name(Resolver& resolver, const std::string& ip,
                                                                         std::chrono::milliseconds limit);

}  // namespace haineko::dns
