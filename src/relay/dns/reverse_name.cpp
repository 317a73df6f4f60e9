#include "relay/dns/reverse_name.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "core/text.hpp"
#include "relay/dns/resolver.hpp"

namespace haineko::dns {
namespace {

namespace asio = boost::asio;
constexpr std::size_t kMaxNames = 3;

bool same_address(const std::string& a, const asio::ip::address& b) {
    boost::system::error_code ec;
    const auto parsed = asio::ip::make_address(a, ec);
    return !ec && parsed == b;
}

asio::awaitable<std::optional<std::string>> confirmed(Resolver& resolver, const std::string& ip) {
    boost::system::error_code ec;
    const asio::ip::address address = asio::ip::make_address(ip, ec);
    if (ec) co_return std::nullopt;
    // This host, as /etc/hosts names it everywhere: no query for a local client.
    if (ip == "127.0.0.1" || ip == "::1") co_return std::string("localhost");
    const std::string ptr_type = "PTR", forward_type = address.is_v4() ? "A" : "AAAA";
    const RecordsAnswer names = co_await resolver.records(ip, ptr_type);
    if (names.status != RecordsAnswer::found) co_return std::nullopt;
    for (std::size_t i = 0; i < names.records.size() && i < kMaxNames; ++i) {
        std::string name = to_lower(names.records[i]);
        if (name.ends_with('.')) name.pop_back();
        if (name.empty()) continue;
        const RecordsAnswer forward = co_await resolver.records(name, forward_type);
        if (forward.status != RecordsAnswer::found) continue;
        for (const auto& a : forward.records)
            if (same_address(a, address)) co_return name;
    }
    co_return std::nullopt;
}

}  // namespace

asio::awaitable<std::optional<std::string>> verified_reverse_name(Resolver& resolver, const std::string& ip,
                                                                  std::chrono::milliseconds limit) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer deadline(co_await asio::this_coro::executor, limit);
    auto first = co_await (confirmed(resolver, ip) || deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (first.index() == 1) co_return std::nullopt;
    co_return std::get<0>(first);
}

}  // namespace haineko::dns
