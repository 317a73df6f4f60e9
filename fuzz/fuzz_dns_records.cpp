// A DNS answer as the resolver reads it for haineko.dns.query (Resolver::parse_records):
// any bytes, for each record type. Nothing may crash; the TTL is within a day, and none
// without records; an address is text.
#include <arpa/nameser.h>

#include <cstdint>

#include "fuzz_support.hpp"
#include "relay/dns/resolver.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    for (int type : {ns_t_a, ns_t_aaaa, ns_t_mx, ns_t_txt, ns_t_ptr}) {
        std::vector<std::string> records;
        int ttl = -1;
        const bool ok = haineko::dns::Resolver::parse_records(data, static_cast<int>(size), type, records, ttl);
        FUZZ_CHECK(ttl >= 0 && ttl <= 86400, "a TTL is between 0 and a day");
        FUZZ_CHECK(!ok || !records.empty() || ttl == 0, "an answer without records has no TTL");
        if (type == ns_t_a || type == ns_t_aaaa)
            for (const auto& r : records) FUZZ_CHECK(r.find('\0') == std::string::npos && !r.empty(), "an address is text");
    }
    return 0;
}
