// LMTP (RFC 2033): hands a message to a local delivery agent (Dovecot, Cyrus) at the route's
// host and port, or at its Unix socket (`socket`). One transaction carries the recipients of a
// group, and after DATA the server answers once for each recipient it took, so a message can be
// delivered to some and deferred or bounced for others; the queue disposes of each reply.
#include <optional>

#include "relay/dns/resolver.hpp"
#include "relay/lmtp/client.hpp"
#include "relay/mailer.hpp"
#include "relay/smtp/session.hpp"

namespace haineko {
namespace {

namespace asio = boost::asio;
using smtp::RawReply;

lmtp::Target target_of(const Route& route, const Config& config) {
    lmtp::Target t;
    t.host = route.host;
    t.port = route.port;
    t.socket = route.socket;
    t.timeout = smtp::Seconds(route.timeout);
    t.lhlo = config.smtpd.helo_name;
    return t;
}

std::string mail_command(const std::string& mail, const BuiltMessage& m, const smtp::Capabilities& caps) {
    std::string out = "MAIL FROM:<" + mail + ">";
    if (m.eight_bit() && caps.eight_bit_mime) out += " BODY=8BITMIME";
    return out;
}

// Writing the message, and the replies after it (the server may deliver before it answers):
// the route's timeout twice, and a second more for each 64 KiB, so a large message on a slow
// link is not cut off by a deadline meant for one command.
smtp::Seconds data_deadline(smtp::Seconds timeout, std::size_t bytes) {
    return timeout * 2 + smtp::Seconds(static_cast<long>(bytes / 65536));
}

// What one LMTP transaction of a group leaves for each recipient.
struct Transaction {
    std::vector<std::optional<Reply>> replies;  // filled as the server answers
    void answer_rest(const Reply& r) {
        for (auto& slot : replies)
            if (!slot) slot = r;
    }
};

asio::awaitable<void> send_data(lmtp::Connection& conn, const BuiltMessage& message, const std::string& to_line,
                                smtp::Seconds timeout) {
    const BuiltMessage* m = &message;
    std::optional<BuiltMessage> seven_bit;
    if (m->eight_bit() && !conn.caps.eight_bit_mime) m = &seven_bit.emplace(m->seven_bit_copy());
    if (!m->smtp_body) m->smtp_body = smtp::dot_stuffed(m->body);
    std::vector<asio::const_buffer> pieces{asio::buffer(m->head_before_to), asio::buffer(to_line),
                                           asio::buffer(m->head_after_to), asio::buffer(*m->smtp_body)};
    co_await conn.write(pieces, "DATA", data_deadline(timeout, asio::buffer_size(pieces)));
}

// MAIL, RCPT each, DATA, then one reply per accepted recipient. Throws as the connection does.
asio::awaitable<void> converse(lmtp::Connection& conn, const lmtp::Target& target, const std::string& mail,
                               const std::vector<std::string>& rcpts, const BuiltMessage& message,
                               const std::string& to_line, Transaction& tx) {
    const smtp::Seconds t = target.timeout;
    // Lines named before co_await: GCC 12 mishandles temporaries in its arguments.
    const std::string mail_line = mail_command(mail, message, conn.caps);
    RawReply sender = co_await conn.command(mail_line, "MAIL", t);
    if (!sender.is_2xx()) {
        tx.answer_rest(smtp::stage_error("MAIL", sender, "250", conn.peer));
        co_return;
    }
    std::vector<std::size_t> taken;
    for (std::size_t i = 0; i < rcpts.size(); ++i) {
        const std::string rcpt_line = "RCPT TO:<" + rcpts[i] + ">";
        RawReply r = co_await conn.command(rcpt_line, "RCPT", t);
        if (r.is_2xx()) taken.push_back(i);
        else tx.replies[i] = smtp::stage_error("RCPT", r, "250", conn.peer);
    }
    if (taken.empty()) co_return;
    const std::string data_line = "DATA";
    RawReply go = co_await conn.command(data_line, "DATA", t);
    if (go.code != 354) {
        tx.answer_rest(smtp::stage_error("DATA", go, "354", conn.peer));
        co_return;
    }
    co_await send_data(conn, message, to_line, t);
    const smtp::Seconds wait = data_deadline(t, message.body.size());
    for (std::size_t i : taken) {
        RawReply r = co_await conn.read_reply("DATA", wait);
        Reply reply = r.is_2xx() ? smtp::reply_from("DATA", r) : smtp::stage_error("DATA", r, "250", conn.peer);
        if (r.is_2xx()) reply.command = "QUIT";  // as the SMTP relays label a delivery
        tx.replies[i] = std::move(reply);
    }
}

class LmtpMailer final : public Mailer {
public:
    LmtpMailer(asio::any_io_executor executor, dns::Resolver& resolver) : executor_(executor), resolver_(resolver) {}

    asio::awaitable<Reply> deliver(const Delivery& d) override {
        const std::vector<std::string> rcpts{d.rcpt};
        const std::string to_line = to_line_for(d.message, rcpts);
        std::vector<Reply> replies = co_await transact(d.route, d.config, d.submission.mail, rcpts, d.message, to_line);
        co_return replies.front();
    }

    asio::awaitable<std::vector<Reply>> deliver_all(const GroupDelivery& g) override {
        if (!g.message.own_to && g.rcpts.size() > 1) co_return co_await Mailer::deliver_all(g);
        const std::string to_line = to_line_for(g.message, g.rcpts);
        co_return co_await transact(g.route, g.config, g.submission.mail, g.rcpts, g.message, to_line);
    }

private:
    asio::awaitable<std::vector<Reply>> transact(const Route& route, const Config& config, const std::string& mail,
                                                 const std::vector<std::string>& rcpts, const BuiltMessage& message,
                                                 const std::string& to_line) {
        lmtp::Target target = target_of(route, config);
        Transaction tx;
        tx.replies.resize(rcpts.size());
        lmtp::Connection conn(executor_);
        try {
            if (target.socket.empty()) {
                dns::HostAnswer host = co_await resolver_.addresses(route.host);
                if (host.status != dns::HostAnswer::found)
                    throw smtp::SmtpIoError(smtp::SmtpIoError::connect, "CONN",
                                            "cannot resolve " + route.host + ": " + host.error);
                target.addresses = host.addresses;
            }
            co_await lmtp::open(conn, target);
            co_await converse(conn, target, mail, rcpts, message, to_line, tx);
            co_await quit(conn, target);
        } catch (const smtp::SmtpIoError& e) {
            tx.answer_rest(smtp::reply_from(e));
        } catch (const smtp::ReplyError& e) {
            tx.answer_rest(e.reply);
        }
        co_return finish(tx, target);
    }

    static asio::awaitable<void> quit(lmtp::Connection& conn, const lmtp::Target& target) {
        try {
            const std::string quit_line = "QUIT";
            co_await conn.command(quit_line, "QUIT", target.timeout);
        } catch (const smtp::SmtpIoError&) {
            // the message is delivered already; a server that hangs up without 221 is fine
        }
        conn.close();
    }

    static std::vector<Reply> finish(Transaction& tx, const lmtp::Target& target) {
        std::vector<Reply> out;
        for (auto& slot : tx.replies) {
            Reply r = std::move(*slot);
            r.host = target.socket.empty() ? target.host : target.socket;
            if (target.socket.empty()) r.port = target.port;
            out.push_back(std::move(r));
        }
        return out;
    }

    asio::any_io_executor executor_;
    dns::Resolver& resolver_;
};

}  // namespace

std::unique_ptr<Mailer> make_lmtp_mailer(asio::any_io_executor executor, dns::Resolver& resolver) {
    return std::make_unique<LmtpMailer>(executor, resolver);
}

}  // namespace haineko
