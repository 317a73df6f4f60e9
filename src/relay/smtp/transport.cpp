#include "relay/smtp/transport.hpp"

#include "core/tls.hpp"
#include "relay/smtp/lane.hpp"

namespace haineko::smtp {
namespace {

namespace asio = boost::asio;

// Sessions are shared only by routes that would open the same one: same peer, same TLS,
// same credentials. The credentials go in as a hash, so that keys never hold secrets.
std::string lane_key(const Target& t) {
    std::string key = t.host + "|" + std::to_string(t.port) + "|" +
                      (t.implicit_tls ? "ssl" : t.starttls ? "starttls" : "plain") + "|" + (t.verify ? "verify" : "noverify");
    if (t.credential) {
        key += "|" + t.credential->username + "|" +
               std::to_string(std::hash<std::string>{}(t.credential->username + '\0' + t.credential->password));
        if (t.auth_plaintext) key += "|plaintext-auth";
    }
    return key;
}

}  // namespace

Transport::Transport(asio::any_io_executor executor, std::size_t loops, TlsContexts& tls)
    : executor_(std::move(executor)), loops_(loops ? loops : 1), tls_(tls) {}

Transport::~Transport() = default;

asio::awaitable<Reply> Transport::send(const Target& target, const std::string& mail, const std::string& rcpt,
                                       const BuiltMessage& message, const Settings& settings) {
    std::vector<std::string> rcpts;  // named locals: GCC 12 rejects braced temporaries in co_await
    rcpts.push_back(rcpt);
    const std::string to_line = to_line_for(message, rcpts);
    auto replies = co_await send(target, mail, rcpts, message, to_line, settings);
    co_return std::move(replies.front());
}

asio::awaitable<std::vector<Reply>> Transport::send(const Target& target, const std::string& mail,
                                                    const std::vector<std::string>& rcpts, const BuiltMessage& message,
                                                    const std::string& to_line, const Settings& settings) {
    const std::string key = lane_key(target);
    auto& lane = lanes_[key];
    auto tls = tls_.client(settings.tls_ca_file);
    if (!lane)
        lane = std::make_shared<Lane>(executor_, key, SharedLimit::process(), tls);
    else
        lane->set_tls(tls);  // after a reload: new sessions read the CA file again
    LaneSettings ls;
    ls.limit = static_cast<std::size_t>(std::max(1, settings.max_sessions_per_host));
    ls.loops = loops_;
    ls.max_messages_per_session = settings.max_messages_per_session;
    ls.idle = Seconds(settings.pool_idle_timeout);
    Job job(executor_, target, mail, rcpts, message, to_line);
    auto keep = lane;  // the lane outlives this call even if the map changes
    co_await keep->run(job, ls);
    for (auto& r : job.replies) {
        r.host = target.host;
        r.port = target.port;
    }
    co_return std::move(job.replies);
}

void Transport::drain() {
    for (auto& [key, lane] : lanes_) lane->drain();
}

// Only host and port name a lane in /metrics: the rest of its key (TLS mode, user) would
// split one host's sessions into labels an operator did not ask for.
std::map<std::string, HostSessions> Transport::sessions_by_host() const {
    std::map<std::string, HostSessions> out;
    for (const auto& [key, lane] : lanes_) {
        const auto host_end = key.find('|');
        const auto port_end = key.find('|', host_end + 1);
        auto& n = out[key.substr(0, host_end) + ":" + key.substr(host_end + 1, port_end - host_end - 1)];
        n.open += lane->live_sessions();
        n.idle += lane->idle_sessions();
    }
    return out;
}

std::size_t Transport::sessions_opened() const {
    std::size_t n = 0;
    for (const auto& [key, lane] : lanes_) n += lane->sessions_opened();
    return n;
}

}  // namespace haineko::smtp
