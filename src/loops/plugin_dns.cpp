// haineko.dns on the loop's resolver (the one the MX mailer uses): runtime/ joins the two
// rooms, which do not know each other.
#include "loops/plugin_dns.hpp"

#include "relay/dns/resolver.hpp"

namespace haineko {

namespace {

class ResolverDns : public plugin::Dns {
public:
    explicit ResolverDns(dns::Resolver& resolver) : resolver_(resolver) {}

    boost::asio::awaitable<plugin::DnsAnswer> query(std::string name, std::string type) override {
        const dns::RecordsAnswer r = co_await resolver_.records(name, type);
        plugin::DnsAnswer out;
        out.records = r.records;
        out.ttl = r.ttl;
        switch (r.status) {
        case dns::RecordsAnswer::found: break;
        case dns::RecordsAnswer::nxdomain: out.error = "nxdomain"; break;
        case dns::RecordsAnswer::nodata: out.error = "nodata"; break;
        case dns::RecordsAnswer::timeout: out.error = "timeout"; break;
        case dns::RecordsAnswer::servfail: out.error = "servfail"; break;
        }
        co_return out;
    }

private:
    dns::Resolver& resolver_;
};

}  // namespace

std::unique_ptr<plugin::Dns> make_plugin_dns(dns::Resolver& resolver) { return std::make_unique<ResolverDns>(resolver); }

}  // namespace haineko
