// Every configured milter, in order, for one client: an SMTP session, or one HTTP
// submission played as one. Each stage goes to each filter that still wants it; the first
// that refuses decides. A filter that cannot be reached, times out or breaks the protocol
// is logged and then answers as its on_error says (tempfail, accept, reject), for the rest
// of the session. Changes at the end of the message are applied in order, so each filter
// sees what the ones before it made.
#pragma once
#include <boost/asio.hpp>

#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "milter/changes.hpp"
#include "milter/filter.hpp"

namespace haineko::milter {

// What the filters are told of the client and of us.
struct ClientFacts {
    std::string address;
    std::uint16_t port = 0;
    std::string our_hostname;  // j
    std::string daemon_name = "haineko";
    std::string tls_version;  // "" without TLS
    std::string tls_cipher;
    std::string auth_user;  // "" when not authenticated
    std::string auth_type;  // the SASL mechanism it used
};

// The chain's answer to a stage.
struct Verdict {
    enum class Kind { go_on, reject, tempfail, discard };
    Kind kind = Kind::go_on;
    int code = 0;
    std::string dsn;
    std::string text;
    std::string stage;  // the SMTP command it answers: CONNECT, EHLO, MAIL, RCPT or DATA
    std::string filter; // the milter's socket
    bool quarantined = false;  // DATA: keep the message held
    std::string quarantine_reason;

    bool refused() const { return kind == Kind::reject || kind == Kind::tempfail; }
    // "550 5.7.1 text\r\n" (a multi-line text gets one reply line each)
    std::string smtp_reply() const;
};

class Chain {
public:
    Chain(boost::asio::any_io_executor executor, const std::vector<MilterSettings>& milters);
    ~Chain();

    bool empty() const { return entries_.empty(); }
    // The facts of the client as they change (after STARTTLS, after AUTH).
    ClientFacts& client() { return client_; }

    // Opens each filter and tells it of the client.
    boost::asio::awaitable<Verdict> connect(const ClientFacts& client);
    boost::asio::awaitable<Verdict> helo(const std::string& name);
    boost::asio::awaitable<Verdict> mail(const std::string& sender, const std::vector<std::string>& args);
    // A reject or tempfail here is for this recipient only.
    boost::asio::awaitable<Verdict> rcpt(const std::string& rcpt, const std::vector<std::string>& args);
    // The message: its changes are made in message (header, body, sender, recipients).
    boost::asio::awaitable<Verdict> message(Editable& message, const std::string& queue_id);
    // The transaction ends without a message (RSET, a refusal): filters forget it.
    boost::asio::awaitable<void> abort();
    boost::asio::awaitable<void> close();

private:
    struct Entry;
    boost::asio::awaitable<Verdict> each(const char* stage, bool session_wide,
                                         const std::function<boost::asio::awaitable<Answer>(Filter&)>& ask);
    Verdict failed(Entry& e, const char* stage, const std::string& why);

    boost::asio::any_io_executor executor_;
    std::vector<std::unique_ptr<Entry>> entries_;
    ClientFacts client_;
    std::string sender_;
    bool in_transaction_ = false;
};

}  // namespace haineko::milter
