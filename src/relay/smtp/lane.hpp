// The SMTP sessions of one loop to one (host, port, TLS, credentials): a queue of
// transactions and the sessions that work it. A session takes the next transaction
// itself, and when one waits while it sends a message, it writes that transaction's
// MAIL, RCPT and DATA in the same write as the message and its final dot (RFC 2920 lets
// message content start a group), so a busy session needs one write and one read per
// message and no RSET.
//
// Outcomes: a recipient is delivered only on a 2xx to the end of DATA. A session that
// dies before a transaction got any reply puts it back in the queue for another session
// (once); one that dies after the message was sent reports 421 (the outcome is unknown).
#pragma once
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <deque>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/reply.hpp"
#include "message/builder.hpp"
#include "relay/smtp/pool.hpp"
#include "relay/smtp/session.hpp"

namespace haineko::smtp {

struct EnvelopeOutcome;  // what the replies to MAIL, RCPT and DATA decided

// One transaction: an envelope and a message, and a reply per recipient when done.
struct Job {
    Job(boost::asio::any_io_executor executor, const Target& target, std::string mail, std::vector<std::string> rcpts,
        const BuiltMessage& message, std::string to_line)
        : target(target), mail(std::move(mail)), rcpts(std::move(rcpts)), message(message),
          to_line(std::move(to_line)), wake(executor, boost::asio::steady_timer::time_point::max()) {}

    const Target& target;
    std::string mail;
    std::vector<std::string> rcpts;
    const BuiltMessage& message;
    std::string to_line;  // inserted between the message's two header parts

    enum class State { queued, sending, done } state = State::queued;
    std::vector<Reply> replies;  // one per rcpt, when done
    boost::asio::steady_timer wake;  // cancelled when the state changes for the requester
    int requeued = 0;
    std::optional<BuiltMessage> seven_bit;  // for a session without 8BITMIME
};

struct LaneSettings {
    std::size_t limit = 8;  // sessions for the whole process (max_sessions_per_host)
    std::size_t loops = 1;
    int max_messages_per_session = 0;
    Seconds idle{30};
};

class Lane : public std::enable_shared_from_this<Lane> {
public:
    Lane(boost::asio::any_io_executor executor, std::string key, SharedLimit& shared,
         std::shared_ptr<boost::asio::ssl::context> tls);

    // Queues job and waits for its outcome; the lane's sessions do the rest. A job still
    // queued after its target's timeout fails with 421 4.4.2.
    boost::asio::awaitable<void> run(Job& job, const LaneSettings& settings);

    // At shutdown: idle sessions quit now; busy ones after the queue is empty.
    void drain();
    void set_tls(std::shared_ptr<boost::asio::ssl::context> tls) { tls_ = std::move(tls); }
    std::size_t sessions_opened() const { return opened_; }
    std::size_t live_sessions() const { return live_; }
    std::size_t idle_sessions() const { return idle_.size(); }

private:
    struct IdleSession {
        boost::asio::steady_timer* timer;
    };

    void enqueue(Job& job, bool front);
    void start_sessions();
    boost::asio::awaitable<void> session(Job* first);
    Job* take();
    boost::asio::awaitable<Job*> wait_for_job(Connection& conn);
    boost::asio::awaitable<void> work(Connection& conn, Job* current);
    boost::asio::awaitable<void> transaction_without_pipelining(Connection& conn, Job& job, bool& need_rset,
                                                                bool& any_reply, bool& body_sent);
    void finish(Job& job, std::vector<Reply> replies);
    boost::asio::awaitable<void> refuse(Connection& conn, Job& job, const EnvelopeOutcome& e, bool& need_rset);
    void fail_queued(const Reply& reply);
    void opening_failed(const Reply& reply);
    boost::asio::awaitable<void> quit(Connection& conn);
    bool worth_closing_for_others() const;
    void give_back_slot();

    boost::asio::any_io_executor executor_;
    std::string key_;
    SharedLimit& shared_;
    std::shared_ptr<boost::asio::ssl::context> tls_;
    LaneSettings settings_;
    std::deque<Job*> queue_;
    std::list<IdleSession> idle_;
    std::size_t held_ = 0;     // this loop's slots: sessions open or opening
    std::size_t live_ = 0;     // sessions open and greeted
    std::size_t opening_ = 0;  // sessions being opened
    std::size_t opened_ = 0;
    bool waiting_for_slot_ = false;
    bool draining_ = false;
};

}  // namespace haineko::smtp
