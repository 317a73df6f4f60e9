#include "relay/dns/resolver.hpp"

#include <ares.h>
#include <arpa/nameser.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <mutex>

namespace haineko::dns {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

void library_init() {
    static std::once_flag once;
    std::call_once(once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
}

// Caches are bounded: recipients' domains come from clients. Past this many entries the
// expired ones go, and if that is not enough, the cache starts over.
constexpr std::size_t kMaxCached = 10000;

template <class Cache>
void make_room(Cache& cache, Clock::time_point now) {
    if (cache.size() < kMaxCached) return;
    std::erase_if(cache, [now](const auto& item) { return item.second.expires <= now; });
    if (cache.size() >= kMaxCached) cache.clear();
}

unsigned read16(const unsigned char* p) { return static_cast<unsigned>(p[0] << 8 | p[1]); }
unsigned long read32(const unsigned char* p) {
    return static_cast<unsigned long>(p[0]) << 24 | static_cast<unsigned long>(p[1]) << 16 |
           static_cast<unsigned long>(p[2]) << 8 | p[3];
}

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    while (!s.empty() && s.back() == '.') s.pop_back();
    return s;
}

}  // namespace

namespace {

// Each record of an answer's answer section: each(type, ttl, rdata, rdlength). False for
// an answer that does not parse (and then each may have seen some records already).
template <class Each>
bool walk_answers(const unsigned char* abuf, int alen, Each each) {
    if (alen < 12) return false;
    const unsigned char* end = abuf + alen;
    const unsigned qdcount = read16(abuf + 4), ancount = read16(abuf + 6);
    const unsigned char* p = abuf + 12;
    for (unsigned i = 0; i < qdcount + ancount; ++i) {
        char* name = nullptr;
        long len = 0;
        if (ares_expand_name(p, abuf, alen, &name, &len) != ARES_SUCCESS) return false;
        ares_free_string(name);
        p += len;
        if (i < qdcount) {  // a question: its name, type and class
            p += 4;
            if (p > end) return false;
            continue;
        }
        if (p + 10 > end) return false;
        const unsigned type = read16(p), rdlength = read16(p + 8);
        const unsigned long ttl = read32(p + 4);
        p += 10;
        if (p + rdlength > end) return false;
        if (!each(type, ttl, p, rdlength)) return false;
        p += rdlength;
    }
    return true;
}

int capped_ttl(unsigned long ttl) { return static_cast<int>(std::min<unsigned long>(ttl, 86400)); }

}  // namespace

bool Resolver::parse_mx_answer(const unsigned char* abuf, int alen, std::vector<MxHost>& hosts, int& min_ttl) {
    min_ttl = 86400;
    const bool ok = walk_answers(abuf, alen, [&](unsigned type, unsigned long ttl, const unsigned char* p, unsigned n) {
        if (type != ns_t_mx || n < 3) return true;
        char* exchange = nullptr;
        long elen = 0;
        if (ares_expand_name(p + 2, abuf, alen, &exchange, &elen) != ARES_SUCCESS) return false;
        hosts.push_back(MxHost{static_cast<int>(read16(p)), lower(exchange)});
        ares_free_string(exchange);
        min_ttl = std::min(min_ttl, capped_ttl(ttl));
        return true;
    });
    if (!ok) return false;
    std::stable_sort(hosts.begin(), hosts.end(), [](const MxHost& a, const MxHost& b) { return a.preference < b.preference; });
    return true;
}

namespace {

// One record's data as text, or nothing for a type we do not read.
std::optional<std::string> record_text(const unsigned char* abuf, int alen, const unsigned char* p, unsigned type,
                                       unsigned rdlength) {
    char* name = nullptr;
    long len = 0;
    if (type == ns_t_a && rdlength == 4) {
        asio::ip::address_v4::bytes_type b;
        std::memcpy(b.data(), p, 4);
        return asio::ip::address_v4(b).to_string();
    }
    if (type == ns_t_aaaa && rdlength == 16) {
        asio::ip::address_v6::bytes_type b;
        std::memcpy(b.data(), p, 16);
        return asio::ip::address_v6(b).to_string();
    }
    if (type == ns_t_txt) {  // its character-strings, joined (RFC 7208 3.3)
        std::string out;
        for (unsigned i = 0; i < rdlength;) {
            const unsigned n = p[i];
            if (i + 1 + n > rdlength) return std::nullopt;
            out.append(reinterpret_cast<const char*>(p + i + 1), n);
            i += 1 + n;
        }
        return out;
    }
    const bool mx = type == ns_t_mx;
    if ((mx && rdlength >= 3) || type == ns_t_ptr) {
        if (ares_expand_name(p + (mx ? 2 : 0), abuf, alen, &name, &len) != ARES_SUCCESS) return std::nullopt;
        std::string host = lower(name);
        ares_free_string(name);
        return mx ? std::to_string(read16(p)) + " " + host : host;
    }
    return std::nullopt;
}

// in-addr.arpa / ip6.arpa for an address; the name itself otherwise.
std::string reverse_name(const std::string& name) {
    boost::system::error_code ec;
    const auto ip = asio::ip::make_address(name, ec);
    if (ec) return name;
    static const char* const hex = "0123456789abcdef";
    std::string out;
    if (ip.is_v4()) {
        const auto b = ip.to_v4().to_bytes();
        for (int i = 3; i >= 0; --i) out += std::to_string(b[static_cast<std::size_t>(i)]) + ".";
        return out + "in-addr.arpa";
    }
    const auto b = ip.to_v6().to_bytes();
    for (int i = 15; i >= 0; --i) {
        out += hex[b[static_cast<std::size_t>(i)] & 0xf];
        out += '.';
        out += hex[b[static_cast<std::size_t>(i)] >> 4];
        out += '.';
    }
    return out + "ip6.arpa";
}

}  // namespace

bool Resolver::parse_records(const unsigned char* abuf, int alen, int want, std::vector<std::string>& out, int& min_ttl) {
    min_ttl = 86400;
    const bool ok = walk_answers(abuf, alen, [&](unsigned type, unsigned long ttl, const unsigned char* p, unsigned n) {
        if (static_cast<int>(type) != want) return true;
        if (auto text = record_text(abuf, alen, p, type, n)) {
            out.push_back(std::move(*text));
            min_ttl = std::min(min_ttl, capped_ttl(ttl));
        }
        return true;
    });
    if (out.empty()) min_ttl = 0;
    return ok;
}

struct Resolver::Impl : std::enable_shared_from_this<Resolver::Impl> {
    struct Watch {
        std::unique_ptr<asio::posix::stream_descriptor> descriptor;
        bool want_read = false, want_write = false;
        bool reading = false, writing = false;
    };
    template <class T>
    struct Cached {
        T answer;
        Clock::time_point expires;
    };

    asio::any_io_executor executor;
    ares_channel channel = nullptr;
    asio::steady_timer timeout_timer;
    std::map<int, Watch> watches;
    std::map<std::string, Cached<MxAnswer>> mx_cache;
    std::map<std::string, Cached<HostAnswer>> host_cache;

    Impl(asio::any_io_executor ex, const std::vector<std::string>& servers) : executor(ex), timeout_timer(ex) {
        library_init();
        ares_options options{};
        options.sock_state_cb = &Impl::on_socket_state;
        options.sock_state_cb_data = this;
        options.timeout = 2000;
        options.tries = 2;
        int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
        if (ares_init_options(&channel, &options, mask) != ARES_SUCCESS) throw std::runtime_error("c-ares init failed");
        if (!servers.empty()) {
            std::string csv;
            for (const auto& s : servers) csv += (csv.empty() ? "" : ",") + s;
            if (ares_set_servers_ports_csv(channel, csv.c_str()) != ARES_SUCCESS)
                throw std::runtime_error("dns_servers is not a list of IP[:PORT]: " + csv);
        }
    }

    ~Impl() {
        ares_destroy(channel);  // calls pending callbacks with ARES_EDESTRUCTION
        for (auto& [fd, w] : watches) {
            boost::system::error_code ec;
            w.descriptor->cancel(ec);
            w.descriptor->release();  // c-ares owns the descriptor
        }
    }

    static void on_socket_state(void* data, ares_socket_t fd, int readable, int writable) {
        auto* self = static_cast<Impl*>(data);
        if (!readable && !writable) {
            auto it = self->watches.find(fd);
            if (it != self->watches.end()) {
                boost::system::error_code ec;
                it->second.descriptor->cancel(ec);
                it->second.descriptor->release();
                self->watches.erase(it);
            }
            return;
        }
        auto& w = self->watches[fd];
        if (!w.descriptor) w.descriptor = std::make_unique<asio::posix::stream_descriptor>(self->executor, fd);
        w.want_read = readable;
        w.want_write = writable;
        self->arm(fd);
    }

    void arm(int fd) {
        auto it = watches.find(fd);
        if (it == watches.end()) return;
        Watch& w = it->second;
        // The handlers hold the Impl weakly: a reload may retire it while they wait.
        if (w.want_read && !w.reading) {
            w.reading = true;
            w.descriptor->async_wait(asio::posix::stream_descriptor::wait_read,
                                     [weak = weak_from_this(), fd](boost::system::error_code ec) {
                                         auto self = weak.lock();
                                         if (!self || ec == asio::error::operation_aborted) return;
                                         auto it = self->watches.find(fd);
                                         if (it != self->watches.end()) it->second.reading = false;
                                         ares_process_fd(self->channel, fd, ARES_SOCKET_BAD);
                                         self->arm(fd);
                                         self->schedule_timeout();
                                     });
        }
        if (w.want_write && !w.writing) {
            w.writing = true;
            w.descriptor->async_wait(asio::posix::stream_descriptor::wait_write,
                                     [weak = weak_from_this(), fd](boost::system::error_code ec) {
                                         auto self = weak.lock();
                                         if (!self || ec == asio::error::operation_aborted) return;
                                         auto it = self->watches.find(fd);
                                         if (it != self->watches.end()) it->second.writing = false;
                                         ares_process_fd(self->channel, ARES_SOCKET_BAD, fd);
                                         self->arm(fd);
                                         self->schedule_timeout();
                                     });
        }
    }

    void schedule_timeout() {
        timeval tv{};
        timeval* next = ares_timeout(channel, nullptr, &tv);
        if (!next) {
            timeout_timer.cancel();
            return;
        }
        timeout_timer.expires_after(std::chrono::seconds(next->tv_sec) + std::chrono::microseconds(next->tv_usec));
        timeout_timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
            auto self = weak.lock();
            if (ec || !self) return;
            ares_process_fd(self->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
            self->schedule_timeout();
        });
    }

    // One outstanding c-ares call, awaited as a timer that its callback cancels.
    struct Pending {
        explicit Pending(asio::any_io_executor ex) : wake(ex, asio::steady_timer::time_point::max()) {}
        asio::steady_timer wake;
        bool done = false;
        int status = ARES_SUCCESS;
        std::vector<unsigned char> answer;
        std::vector<asio::ip::address> addresses;
        int ttl = 300;
    };

    asio::awaitable<void> wait(Pending& p) {
        schedule_timeout();
        while (!p.done) co_await p.wake.async_wait(asio::as_tuple(asio::use_awaitable));
    }

    static void on_query(void* arg, int status, int, unsigned char* abuf, int alen) {
        auto* p = static_cast<Pending*>(arg);
        p->status = status;
        if (abuf && alen > 0) p->answer.assign(abuf, abuf + alen);
        p->done = true;
        p->wake.cancel();
    }

    static void on_addrinfo(void* arg, int status, int, ares_addrinfo* info) {
        auto* p = static_cast<Pending*>(arg);
        p->status = status;
        if (info) {
            for (auto* n = info->nodes; n; n = n->ai_next) {
                if (n->ai_family == AF_INET) {
                    auto* sa = reinterpret_cast<sockaddr_in*>(n->ai_addr);
                    asio::ip::address_v4::bytes_type b;
                    std::memcpy(b.data(), &sa->sin_addr, 4);
                    p->addresses.emplace_back(asio::ip::address_v4(b));
                } else if (n->ai_family == AF_INET6) {
                    auto* sa = reinterpret_cast<sockaddr_in6*>(n->ai_addr);
                    asio::ip::address_v6::bytes_type b;
                    std::memcpy(b.data(), &sa->sin6_addr, 16);
                    p->addresses.emplace_back(asio::ip::address_v6(b));
                }
                if (n->ai_ttl > 0) p->ttl = std::min(p->ttl, n->ai_ttl);
            }
            ares_freeaddrinfo(info);
        }
        p->done = true;
        p->wake.cancel();
    }
};

Resolver::Resolver(asio::any_io_executor executor, const std::vector<std::string>& servers)
    : executor_(executor), servers_(servers), impl_(std::make_shared<Impl>(executor, servers)) {}

Resolver::~Resolver() = default;

void Resolver::set_servers(const std::vector<std::string>& servers) {
    if (servers == servers_) return;
    impl_ = std::make_shared<Impl>(executor_, servers);
    servers_ = servers;
}

asio::awaitable<MxAnswer> Resolver::mx(const std::string& raw_domain) {
    const std::string domain = lower(raw_domain);
    auto impl = impl_;  // kept alive for this lookup, even across a reload
    auto now = Clock::now();
    if (auto it = impl->mx_cache.find(domain); it != impl->mx_cache.end() && it->second.expires > now)
        co_return it->second.answer;
    Impl::Pending pending(impl->executor);
    ares_query(impl->channel, domain.c_str(), ns_c_in, ns_t_mx, &Impl::on_query, &pending);
    co_await impl->wait(pending);
    MxAnswer answer;
    int ttl = 60;
    if (pending.status == ARES_SUCCESS) {
        if (!parse_mx_answer(pending.answer.data(), static_cast<int>(pending.answer.size()), answer.hosts, ttl)) {
            answer.status = MxAnswer::failure;
            answer.error = "malformed DNS answer for " + domain;
        } else if (answer.hosts.size() == 1 && answer.hosts[0].host.empty()) {
            answer.status = MxAnswer::null_mx;  // RFC 7505: "0 ." means no mail
        } else if (answer.hosts.empty()) {
            answer.status = MxAnswer::implicit;
            answer.hosts = {{0, domain}};
        } else {
            answer.status = MxAnswer::found;
        }
    } else if (pending.status == ARES_ENODATA) {
        answer.status = MxAnswer::implicit;  // RFC 5321 5.1: no MX, the domain is its own exchanger
        answer.hosts = {{0, domain}};
    } else if (pending.status == ARES_ENOTFOUND) {
        answer.status = MxAnswer::nxdomain;
        answer.error = "Domain " + domain + " does not exist";
    } else {
        answer.status = MxAnswer::failure;
        answer.error = std::string("DNS lookup of MX ") + domain + " failed: " + ares_strerror(pending.status);
    }
    if (answer.status != MxAnswer::failure) {
        make_room(impl->mx_cache, now);
        impl->mx_cache[domain] = {answer, now + std::chrono::seconds(std::max(ttl, 1))};
    }
    co_return answer;
}

asio::awaitable<HostAnswer> Resolver::addresses(const std::string& raw_host) {
    const std::string host = lower(raw_host);
    auto impl = impl_;  // kept alive for this lookup, even across a reload
    HostAnswer answer;
    boost::system::error_code ec;
    auto literal = asio::ip::make_address(host, ec);
    if (!ec) {
        answer.status = HostAnswer::found;
        answer.addresses.push_back(literal);
        co_return answer;
    }
    auto now = Clock::now();
    if (auto it = impl->host_cache.find(host); it != impl->host_cache.end() && it->second.expires > now)
        co_return it->second.answer;
    Impl::Pending pending(impl->executor);
    ares_addrinfo_hints hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    ares_getaddrinfo(impl->channel, host.c_str(), nullptr, &hints, &Impl::on_addrinfo, &pending);
    co_await impl->wait(pending);
    if (pending.status == ARES_SUCCESS && !pending.addresses.empty()) {
        answer.status = HostAnswer::found;
        // IPv4 first: test hosts and many networks have no IPv6 route.
        std::stable_partition(pending.addresses.begin(), pending.addresses.end(),
                              [](const auto& a) { return a.is_v4(); });
        answer.addresses = std::move(pending.addresses);
        make_room(impl->host_cache, now);
        impl->host_cache[host] = {answer, now + std::chrono::seconds(std::max(pending.ttl, 1))};
    } else if (pending.status == ARES_ENOTFOUND || pending.status == ARES_ENODATA || pending.status == ARES_SUCCESS) {
        answer.status = HostAnswer::nxdomain;
        answer.error = "Host " + host + " has no address";
    } else {
        answer.status = HostAnswer::failure;
        answer.error = std::string("DNS lookup of ") + host + " failed: " + ares_strerror(pending.status);
    }
    co_return answer;
}

}  // namespace haineko::dns

namespace haineko::dns {

namespace {

// The answer of one query, shared with c-ares' callback: a cancelled wait may leave
// before the callback comes.
struct SharedQuery {
    explicit SharedQuery(asio::any_io_executor ex) : wake(ex, asio::steady_timer::time_point::max()) {}
    asio::steady_timer wake;
    bool done = false;
    int status = ARES_SUCCESS;
    std::vector<unsigned char> answer;
};

void on_shared_query(void* arg, int status, int, unsigned char* abuf, int alen) {
    std::unique_ptr<std::shared_ptr<SharedQuery>> holder(static_cast<std::shared_ptr<SharedQuery>*>(arg));
    SharedQuery& q = **holder;
    q.status = status;
    if (abuf && alen > 0) q.answer.assign(abuf, abuf + alen);
    q.done = true;
    q.wake.cancel();
}

int type_number(const std::string& type) {
    if (type == "A") return ns_t_a;
    if (type == "AAAA") return ns_t_aaaa;
    if (type == "MX") return ns_t_mx;
    if (type == "TXT") return ns_t_txt;
    if (type == "PTR") return ns_t_ptr;
    return -1;
}

}  // namespace

asio::awaitable<RecordsAnswer> Resolver::records(const std::string& raw_name, const std::string& type) {
    RecordsAnswer answer;
    const int number = type_number(type);
    if (number < 0) co_return answer;
    const std::string name = number == ns_t_ptr ? reverse_name(lower(raw_name)) : lower(raw_name);
    auto impl = impl_;  // kept alive for this lookup, even across a reload
    auto query = std::make_shared<SharedQuery>(impl->executor);
    ares_query(impl->channel, name.c_str(), ns_c_in, number, &on_shared_query, new std::shared_ptr<SharedQuery>(query));
    impl->schedule_timeout();
    while (!query->done) {
        co_await query->wake.async_wait(asio::as_tuple(asio::use_awaitable));
        auto cancelled = (co_await asio::this_coro::cancellation_state).cancelled();
        if (!query->done && cancelled != asio::cancellation_type::none) {
            answer.status = RecordsAnswer::timeout;
            co_return answer;
        }
    }
    if (query->status == ARES_SUCCESS) {
        if (!parse_records(query->answer.data(), static_cast<int>(query->answer.size()), number, answer.records, answer.ttl))
            answer.status = RecordsAnswer::servfail;
        else
            answer.status = answer.records.empty() ? RecordsAnswer::nodata : RecordsAnswer::found;
    } else if (query->status == ARES_ENOTFOUND) {
        answer.status = RecordsAnswer::nxdomain;
    } else if (query->status == ARES_ENODATA) {
        answer.status = RecordsAnswer::nodata;
    } else if (query->status == ARES_ETIMEOUT) {
        answer.status = RecordsAnswer::timeout;
    }
    co_return answer;
}

}  // namespace haineko::dns
