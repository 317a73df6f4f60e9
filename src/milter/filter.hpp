// One milter, spoken to as the MTA (protocol version 6): its connection, the option
// negotiation, and each stage of a session (connect, helo, mail, rcpt, then the message as
// data, headers, end of headers, body chunks and end of message), each sent with its
// macros and answered within the milter's timeout. Stages the filter declined in the
// negotiation are not sent, and replies it said it would not give are not awaited.
#pragma once
#include <boost/asio.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "milter/changes.hpp"

namespace haineko::milter {

using Macros = std::vector<std::pair<std::string, std::string>>;

// The milter could not be reached, took too long, or broke the protocol.
class FilterError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// What a filter said of a stage.
struct Answer {
    enum class Kind { go_on, accept, reject, tempfail, discard };
    Kind kind = Kind::go_on;
    int code = 0;  // reject and tempfail: the reply (a filter's own, or the default)
    std::string dsn;
    std::string text;
};

// What the filter did at the end of the message, besides its answer.
struct EndOfMessage {
    Answer answer;
    bool quarantined = false;
    std::string quarantine_reason;
};

class Filter {
public:
    Filter(boost::asio::any_io_executor executor, MilterSettings settings);
    ~Filter();

    const MilterSettings& settings() const { return settings_; }

    // Connects and negotiates; throws FilterError.
    boost::asio::awaitable<void> open();
    boost::asio::awaitable<Answer> connect(const std::string& hostname, const std::string& address,
                                           std::uint16_t port, const Macros& macros);
    boost::asio::awaitable<Answer> helo(const std::string& name, const Macros& macros);
    boost::asio::awaitable<Answer> mail(const std::string& sender, const std::vector<std::string>& args,
                                        const Macros& macros);
    boost::asio::awaitable<Answer> rcpt(const std::string& rcpt, const std::vector<std::string>& args,
                                        const Macros& macros);
    // DATA, the header fields, end of headers, the body and end of message; the filter's
    // changes are applied to message as they come.
    boost::asio::awaitable<EndOfMessage> message(Editable& message, const Macros& macros);
    // The transaction is over without an end of message (RSET, a refusal): the filter forgets it.
    boost::asio::awaitable<void> abort();
    // Says goodbye (best effort) and closes.
    boost::asio::awaitable<void> quit();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    MilterSettings settings_;
};

}  // namespace haineko::milter
