#include "relay/smtp/lane.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace haineko::smtp {
// What the envelope's replies decided.
struct EnvelopeOutcome {
    bool send_body = false;   // DATA got 354 with a sender and at least one recipient
    bool end_empty = false;   // DATA got 354 although nothing may be sent: end it empty
    bool need_rset = false;   // a transaction was started and not ended
    std::vector<std::optional<Reply>> refused;  // per recipient: its refusal, if any
};

namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// The message as this session can take it: a 7bit copy when it has no 8BITMIME.
const BuiltMessage& message_for(Job& job, const Capabilities& caps) {
    const BuiltMessage* m = &job.message;
    if (m->eight_bit() && !caps.eight_bit_mime) {
        if (!job.seven_bit) job.seven_bit = m->seven_bit_copy();
        m = &*job.seven_bit;
    }
    if (!m->smtp_body) m->smtp_body = dot_stuffed(m->body);
    return *m;
}

std::size_t size_of(const BuiltMessage& m, const std::string& to_line) {
    return m.head_before_to.size() + to_line.size() + m.head_after_to.size() + m.body.size();
}

// [RSET,] MAIL, one RCPT per recipient, DATA: the command group of one transaction.
std::string envelope(Job& job, const Capabilities& caps, bool rset) {
    const BuiltMessage& m = message_for(job, caps);
    std::string out;
    if (rset) out += "RSET\r\n";
    out += "MAIL FROM:<" + job.mail + ">";
    if (caps.size) out += " SIZE=" + std::to_string(size_of(m, job.to_line));
    if (m.eight_bit()) out += " BODY=8BITMIME";
    if (caps.dsn) out += " RET=FULL";
    out += "\r\n";
    for (const auto& rcpt : job.rcpts) {
        out += "RCPT TO:<" + rcpt + ">";
        if (caps.dsn) out += " NOTIFY=FAILURE,DELAY";
        out += "\r\n";
    }
    out += "DATA\r\n";
    return out;
}

Seconds data_timeout(const Job& job) {
    return job.target.timeout * 2 + Seconds(static_cast<long>(job.message.body.size() / (256 * 1024)));
}


EnvelopeOutcome judge(const std::string& peer, const RawReply& mail, const std::vector<RawReply>& rcpts,
                      const RawReply& data) {
    EnvelopeOutcome out;
    out.refused.resize(rcpts.size());
    // A positive reply out of place is a broken peer, never a success.
    if (!mail.is_2xx() && mail.positive()) throw ReplyError{stage_error("MAIL", mail, "250", peer)};
    for (const auto& r : rcpts)
        if (!r.is_2xx() && r.positive()) throw ReplyError{stage_error("RCPT", r, "250", peer)};
    if (data.code != 354 && data.positive()) throw ReplyError{stage_error("DATA", data, "354", peer)};
    const bool sender_ok = mail.is_2xx();
    bool any_rcpt = false;
    for (std::size_t i = 0; i < rcpts.size(); ++i) {
        if (!sender_ok)
            out.refused[i] = reply_from("MAIL", mail);
        else if (!rcpts[i].is_2xx())
            out.refused[i] = reply_from("RCPT", rcpts[i]);
        else
            any_rcpt = true;
    }
    if (data.code == 354) {
        out.send_body = sender_ok && any_rcpt;
        out.end_empty = !out.send_body;
    } else {
        for (auto& r : out.refused)
            if (!r) r = reply_from("DATA", data);
    }
    out.need_rset = sender_ok && !out.send_body;
    return out;
}

// The outcome for every recipient once the final reply to the message is in.
std::vector<Reply> outcome(const EnvelopeOutcome& e, const RawReply& final_reply) {
    std::vector<Reply> out;
    for (const auto& refused : e.refused) {
        if (refused) {
            out.push_back(*refused);
            continue;
        }
        Reply r = reply_from("DATA", final_reply);
        // As the original: an exchange that went through is labelled QUIT (with the
        // relay's answer to the message); a refused one keeps the command that failed.
        if (final_reply.is_2xx()) r.command = "QUIT";
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<Reply> refusals(const EnvelopeOutcome& e) {
    std::vector<Reply> out;
    for (const auto& r : e.refused) out.push_back(r ? *r : local_reply(451, "4.5.0", "DATA", "No reply to DATA"));
    return out;
}

std::vector<Reply> all(const Job& job, const Reply& r) { return std::vector<Reply>(job.rcpts.size(), r); }

}  // namespace

Lane::Lane(asio::any_io_executor executor, std::string key, SharedLimit& shared,
           std::shared_ptr<asio::ssl::context> tls)
    : executor_(std::move(executor)), key_(std::move(key)), shared_(shared), tls_(std::move(tls)) {}

asio::awaitable<void> Lane::run(Job& job, const LaneSettings& settings) {
    settings_ = settings;
    auto deadline = Clock::now() + job.target.timeout;
    job.wake.expires_at(deadline);
    enqueue(job, false);
    for (;;) {
        co_await job.wake.async_wait(use_tuple);
        if (job.state == Job::State::done) co_return;
        if (job.state == Job::State::sending) {
            job.wake.expires_at(Clock::time_point::max());  // a session has it: wait for the outcome
            continue;
        }
        if (Clock::now() >= job.wake.expiry()) {
            if (opening_ > 0) {
                // A session is being opened for the queue: its own deadlines will tell.
                job.wake.expires_after(job.target.timeout);
                continue;
            }
            queue_.erase(std::remove(queue_.begin(), queue_.end(), &job), queue_.end());
            finish(job, all(job, local_reply(421, "4.4.2", "CONN",
                                         "No SMTP session to " + job.target.host + ":" + std::to_string(job.target.port) +
                                             " became free in time")));
            co_return;
        }
    }
}

void Lane::enqueue(Job& job, bool front) {
    job.state = Job::State::queued;
    if (front) {
        // A second chance gets a fresh deadline: the first one was spent on a dead session.
        job.wake.expires_after(job.target.timeout);
        queue_.push_front(&job);
    } else {
        queue_.push_back(&job);
    }
    for (auto& idle : idle_)
        if (idle.timer) {
            idle.timer->cancel();
            idle.timer = nullptr;  // woken: the session takes itself off the list
            return;
        }
    start_sessions();
}

Job* Lane::take() {
    if (queue_.empty()) return nullptr;
    Job* job = queue_.front();
    queue_.pop_front();
    job->state = Job::State::sending;
    return job;
}

void Lane::start_sessions() {
    const std::size_t cap = std::max<std::size_t>(1, (settings_.limit + settings_.loops - 1) / settings_.loops);
    while (queue_.size() > opening_ && held_ < cap) {
        if (live_ == 0 && opening_ == 0) {
            // No session here at all: take a slot, or the next one another loop frees.
            if (waiting_for_slot_) return;
            auto wake = [weak = weak_from_this(), executor = executor_] {
                asio::post(executor, [weak] {
                    auto self = weak.lock();
                    if (!self) return;
                    self->waiting_for_slot_ = false;
                    if (self->queue_.empty())
                        self->shared_.pass_on(self->key_);
                    else
                        self->start_sessions();
                });
            };
            if (!shared_.reserve_or_wait(key_, settings_.limit, std::move(wake))) {
                waiting_for_slot_ = true;
                return;
            }
        } else if (!shared_.try_reserve(key_, settings_.limit)) {
            return;  // the sessions this loop has will work the queue
        }
        ++held_;
        ++opening_;
        asio::co_spawn(executor_, [self = shared_from_this()]() { return self->session(nullptr); }, asio::detached);
    }
}

void Lane::give_back_slot() {
    if (held_ > 0) --held_;
    shared_.release(key_);
}

bool Lane::worth_closing_for_others() const {
    // This loop keeps its guaranteed share warm; past it, a slot another loop waits for
    // is worth more there.
    const std::size_t guaranteed = settings_.limit / settings_.loops;
    return held_ > guaranteed && shared_.has_waiters(key_);
}

void Lane::fail_queued(const Reply& reply) {
    while (!queue_.empty()) {
        Job* job = queue_.front();
        queue_.pop_front();
        finish(*job, all(*job, reply));
    }
}

void Lane::opening_failed(const Reply& reply) {
    // With no live session, the waiting jobs fail with this session's reason, even while
    // other sessions are still being opened: each failed opening would otherwise start the
    // next one, and a host that refuses every connection would keep a busy queue's jobs
    // waiting for ever (a deep queue towards a dead relay found it). A live session
    // keeps working the queue, and a job that fails here is the scheduler's to retry.
    if (live_ == 0) {
        fail_queued(reply);
        return;
    }
    start_sessions();
}

void Lane::finish(Job& job, std::vector<Reply> replies) {
    job.replies = std::move(replies);
    job.state = Job::State::done;
    job.wake.cancel();
}

asio::awaitable<void> Lane::session(Job*) {
    std::shared_ptr<Connection> conn;
    if (queue_.empty()) {  // the work went elsewhere while this session was being started
        --opening_;
        give_back_slot();
        co_return;
    }
    const Target target = queue_.front()->target;  // a copy: that job may end before we do
    try {
        ++opened_;
        conn = co_await open_session(executor_, tls_, target);
    } catch (const SmtpIoError& e) {
        --opening_;
        give_back_slot();
        spdlog::debug("SMTP session to {}:{} could not be opened: {}", target.host, target.port, e.what());
        opening_failed(reply_from(e));
        co_return;
    } catch (const ReplyError& e) {
        --opening_;
        give_back_slot();
        opening_failed(e.reply);
        co_return;
    } catch (const std::exception& e) {  // never expected; a detached session must not leak its slot
        --opening_;
        give_back_slot();
        spdlog::error("SMTP session to {}:{} failed: {}", target.host, target.port, e.what());
        opening_failed(local_reply(421, "4.3.0", "CONN", e.what()));
        co_return;
    }
    --opening_;
    ++live_;
    co_await work(*conn, nullptr);
    --live_;
    // The slot is free only once the session is closed at the peer too: a peer counting
    // connections must never see more than max_sessions_per_host.
    if (conn->is_open()) co_await quit(*conn);
    conn->close();
    give_back_slot();
    if (!queue_.empty()) start_sessions();
}

asio::awaitable<Job*> Lane::wait_for_job(Connection& conn) {
    auto until = Clock::now() + settings_.idle;
    while (queue_.empty() && !draining_ && conn.is_open()) {
        asio::steady_timer timer(executor_, until);
        auto entry = idle_.insert(idle_.end(), IdleSession{&timer});
        auto [ec] = co_await timer.async_wait(use_tuple);
        idle_.erase(entry);
        if (!ec) break;  // idle for too long
    }
    co_return take();
}

// The transaction is refused: its recipients get their refusals. A server that said 354
// all the same gets an empty message ended at once, and a RSET before the next one.
asio::awaitable<void> Lane::refuse(Connection& conn, Job& job, const EnvelopeOutcome& e, bool& need_rset) {
    if (e.end_empty) {
        co_await conn.write(".\r\n", "DATA", job.target.timeout);
        co_await conn.read_reply("DATA", job.target.timeout);
        need_rset = true;
    }
    finish(job, refusals(e));
}

asio::awaitable<void> Lane::transaction_without_pipelining(Connection& conn, Job& job, bool& need_rset,
                                                          bool& any_reply, bool& body_sent) {
    const Seconds t = job.target.timeout;
    if (need_rset) {
        RawReply r = co_await conn.command("RSET", "RSET", t);
        any_reply = true;
        if (r.code != 250) throw ReplyError{stage_error("RSET", r, "250", conn.peer)};
        need_rset = false;
    }
    // The same group, one command at a time: each reply decides whether to go on.
    const std::string group = envelope(job, conn.caps, false);
    std::vector<std::string> lines;
    for (std::size_t pos = 0; pos < group.size();) {
        std::size_t eol = group.find("\r\n", pos);
        lines.push_back(group.substr(pos, eol - pos));
        pos = eol + 2;
    }
    RawReply mail = co_await conn.command(lines.front(), "MAIL", t);
    any_reply = true;
    std::vector<RawReply> rcpts;
    RawReply data;  // code 0: not sent
    if (mail.is_2xx()) {
        bool any = false;
        for (std::size_t i = 0; i < job.rcpts.size(); ++i) {
            rcpts.push_back(co_await conn.command(lines[1 + i], "RCPT", t));
            any = any || rcpts.back().is_2xx();
        }
        if (any) data = co_await conn.command("DATA", "DATA", t);
    }
    rcpts.resize(job.rcpts.size(), mail);  // not sent: refused as MAIL was
    if (data.code == 0) data = mail.is_2xx() ? rcpts.front() : mail;  // DATA not sent: stands for the refusal
    EnvelopeOutcome e = judge(conn.peer, mail, rcpts, data);
    need_rset = e.need_rset;
    if (!e.send_body) {
        co_await refuse(conn, job, e, need_rset);
        co_return;
    }
    const BuiltMessage& m = message_for(job, conn.caps);
    std::vector<asio::const_buffer> pieces{asio::buffer(m.head_before_to), asio::buffer(job.to_line),
                                           asio::buffer(m.head_after_to), asio::buffer(*m.smtp_body)};
    body_sent = true;
    co_await conn.write(pieces, "DATA", data_timeout(job));
    RawReply final_reply = co_await conn.read_reply("DATA", data_timeout(job));
    ++conn.messages;
    if (!final_reply.is_2xx() && final_reply.positive())
        throw ReplyError{stage_error("DATA", final_reply, "250", conn.peer)};
    finish(job, outcome(e, final_reply));
}

asio::awaitable<void> Lane::work(Connection& conn, Job* current) {
    bool need_rset = false;
    bool written = false;  // current's command group is on the wire
    bool any_reply = false, body_sent = false;
    Job* next = nullptr;  // pipelined behind current's message
    // Whether a session that has sent `sent` messages may send another.
    const auto may_send_after = [&](int sent) {
        return settings_.max_messages_per_session == 0 || sent < settings_.max_messages_per_session;
    };
    try {
        for (;;) {
            if (!current) {
                if (!may_send_after(conn.messages)) co_return;
                current = take();
                if (!current) {
                    if (draining_ || worth_closing_for_others()) co_return;
                    current = co_await wait_for_job(conn);
                    if (!current) co_return;
                }
                written = any_reply = body_sent = false;
            }
            if (!conn.caps.pipelining) {
                co_await transaction_without_pipelining(conn, *current, need_rset, any_reply, body_sent);
                current = nullptr;
                continue;
            }
            const Seconds t = current->target.timeout;
            if (!written) {
                co_await conn.write(envelope(*current, conn.caps, need_rset), need_rset ? "RSET" : "MAIL", t);
                written = true;
            }
            if (need_rset) {
                RawReply r = co_await conn.read_reply("RSET", t);
                any_reply = true;
                if (r.code != 250) throw ReplyError{stage_error("RSET", r, "250", conn.peer)};
                need_rset = false;
            }
            RawReply mail = co_await conn.read_reply("MAIL", t);
            any_reply = true;
            std::vector<RawReply> rcpts;
            for (std::size_t i = 0; i < current->rcpts.size(); ++i) rcpts.push_back(co_await conn.read_reply("RCPT", t));
            RawReply data = co_await conn.read_reply("DATA", t);
            EnvelopeOutcome e = judge(conn.peer, mail, rcpts, data);
            need_rset = e.need_rset;
            if (!e.send_body) {
                co_await refuse(conn, *current, e, need_rset);
                current = nullptr;
                continue;
            }
            // The message, and behind it the next transaction's commands when one waits.
            const BuiltMessage& m = message_for(*current, conn.caps);
            if (may_send_after(conn.messages + 1)) next = take();
            std::string next_group = next ? envelope(*next, conn.caps, false) : std::string();
            std::vector<asio::const_buffer> pieces{asio::buffer(m.head_before_to), asio::buffer(current->to_line),
                                                   asio::buffer(m.head_after_to), asio::buffer(*m.smtp_body),
                                                   asio::buffer(next_group)};
            body_sent = true;
            co_await conn.write(pieces, "DATA", data_timeout(*current));
            RawReply final_reply = co_await conn.read_reply("DATA", data_timeout(*current));
            ++conn.messages;
            if (!final_reply.is_2xx() && final_reply.positive())
                throw ReplyError{stage_error("DATA", final_reply, "250", conn.peer)};
            finish(*current, outcome(e, final_reply));
            current = next;
            next = nullptr;
            written = current != nullptr;
            any_reply = body_sent = false;
        }
    } catch (const SmtpIoError& e) {
        conn.close();
        spdlog::debug("SMTP session to {} failed at {}: {}", conn.peer, e.stage, e.what());
        if (next) enqueue(*next, true);
        if (current) {
            // Nothing was answered yet: the session had died while idle, so the job goes to
            // another session, once. After the message went out the outcome is unknown.
            if (!any_reply && !body_sent && current->requeued++ == 0)
                enqueue(*current, true);
            else
                finish(*current, all(*current, reply_from(e)));
        }
    } catch (const ReplyError& e) {
        conn.close();
        if (next) enqueue(*next, true);
        if (current) finish(*current, all(*current, e.reply));
    } catch (const std::exception& e) {  // never expected; no requester may be left waiting
        conn.close();
        spdlog::error("SMTP session to {} failed: {}", conn.peer, e.what());
        if (next) enqueue(*next, true);
        if (current) finish(*current, all(*current, local_reply(421, "4.3.0", "DATA", e.what())));
    }
}

asio::awaitable<void> Lane::quit(Connection& conn) {
    try {
        co_await conn.command("QUIT", "QUIT", Seconds(5));
    } catch (const std::exception&) {
    }
    conn.close();
}

void Lane::drain() {
    draining_ = true;
    for (auto& idle : idle_)
        if (idle.timer) {
            idle.timer->cancel();
            idle.timer = nullptr;
        }
}

}  // namespace haineko::smtp
