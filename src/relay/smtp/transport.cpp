#include "relay/smtp/transport.hpp"

#include <spdlog/spdlog.h>

#include "policy/password.hpp"

namespace haineko::smtp {
namespace {

namespace asio = boost::asio;

// A negative reply while opening a session (greeting, EHLO, STARTTLS, AUTH).
struct ReplyError {
    Reply reply;
};

Reply from_raw(const std::string& command, const RawReply& raw) { return parse_smtp_reply(command, raw.lines); }

Reply made_reply(int code, const std::string& dsn, const std::string& command, const std::string& text) {
    Reply r;
    r.code = code;
    r.dsn = dsn;
    r.command = command;
    r.message = {text};
    return r;
}

Reply from_io_error(const SmtpIoError& e) {
    switch (e.kind) {
        case SmtpIoError::connect: {
            Reply r = named_reply("conn", "cannot-connect");
            return r;
        }
        case SmtpIoError::timeout:
            return made_reply(421, "4.4.2", e.stage, e.what());
        case SmtpIoError::closed:
            return made_reply(421, "4.4.2", e.stage, e.what());
        case SmtpIoError::tls:
            return made_reply(421, "4.7.0", e.stage, e.what());
        case SmtpIoError::protocol:
            return made_reply(421, "4.5.0", e.stage, e.what());
    }
    return made_reply(421, "4.0.0", e.stage, e.what());
}

// Sessions are shared only by routes that would open the same one: same peer, same TLS,
// same credentials. The credentials go in as a hash, so that keys never hold secrets.
std::string pool_key(const Target& t) {
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

Target target_for(const Route& route, const Config& config, const Credential* credential, const std::string& host) {
    Target target;
    target.host = host;
    target.port = route.port;
    target.implicit_tls = route.ssl;
    target.starttls = route.starttls;
    target.verify = route.tls_verify;
    target.auth_plaintext = route.auth_plaintext;
    target.credential = credential;
    target.timeout = Seconds(route.timeout);
    target.helo = config.smtpd.hostname;
    return target;
}

Transport::Transport(asio::any_io_executor executor, std::size_t loops)
    : executor_(executor), loops_(loops ? loops : 1), pool_(executor, loops_) {}

Transport::~Transport() = default;

asio::ssl::context& Transport::tls_context(const std::string& ca_file) {
    auto& slot = tls_contexts_[ca_file];
    if (!slot) {
        slot = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
        slot->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                          asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
        // The system's default paths, so SSL_CERT_FILE and SSL_CERT_DIR work, plus our own CA.
        slot->set_default_verify_paths();
        if (!ca_file.empty()) {
            boost::system::error_code ec;
            slot->load_verify_file(ca_file, ec);
            if (ec) spdlog::error("tls_ca_file {} could not be loaded: {}", ca_file, ec.message());
        }
    }
    return *slot;
}

asio::awaitable<void> Transport::authenticate(Connection& conn, const Target& target) {
    const Credential& cred = *target.credential;
    if (!conn.tls_active && !target.auth_plaintext)
        throw ReplyError{made_reply(530, "5.7.0", "AUTH",
                                    "AUTH refused over an unencrypted connection to " + conn.peer +
                                        " (set starttls: 1, ssl: 1, or auth_plaintext: 1 in the route)")};
    const std::string mech = strongest_auth(conn.caps);
    if (mech.empty())
        throw ReplyError{made_reply(504, "5.5.4", "AUTH", "No AUTH mechanism we support is offered by " + conn.peer)};
    const Seconds t = target.timeout;
    RawReply r;
    if (mech == "PLAIN") {
        r = co_await conn.command("AUTH PLAIN " + auth_plain_token(cred.username, cred.password), "AUTH", t);
    } else if (mech == "LOGIN") {
        r = co_await conn.command("AUTH LOGIN", "AUTH", t);
        if (r.code == 334) r = co_await conn.command(base64_encode(cred.username), "AUTH", t);
        if (r.code == 334) r = co_await conn.command(base64_encode(cred.password), "AUTH", t);
    } else {
        r = co_await conn.command("AUTH CRAM-MD5", "AUTH", t);
        if (r.code == 334) {
            std::string challenge = r.lines.back().size() > 4 ? r.lines.back().substr(4) : "";
            auto answer = cram_md5_answer(cred.username, cred.password, challenge);
            r = co_await conn.command(answer ? *answer : "*", "AUTH", t);
        }
    }
    if (r.code != 235) throw ReplyError{from_raw("AUTH", r)};
}

asio::awaitable<std::shared_ptr<Connection>> Transport::open(const Target& target, const Settings& settings) {
    auto conn = std::make_shared<Connection>(executor_, tls_context(settings.tls_ca_file));
    const Seconds t = target.timeout;
    co_await conn->connect(target.host, target.port, target.addresses, t);
    if (target.implicit_tls) co_await conn->start_tls(target.host, target.verify, t);
    RawReply greeting = co_await conn->read_reply("CONN", t);
    if (greeting.code != 220) throw ReplyError{from_raw("CONN", greeting)};

    auto hello = [&]() -> asio::awaitable<void> {
        RawReply ehlo = co_await conn->command("EHLO " + target.helo, "EHLO", t);
        if (ehlo.code == 250) {
            conn->caps = parse_ehlo(ehlo.lines);
            co_return;
        }
        RawReply helo = co_await conn->command("HELO " + target.helo, "HELO", t);
        if (helo.code != 250) throw ReplyError{from_raw("HELO", helo)};
        conn->caps = Capabilities{};
    };
    co_await hello();
    if (target.starttls && !conn->tls_active) {
        if (!conn->caps.starttls)
            throw ReplyError{made_reply(530, "5.7.0", "STARTTLS", "STARTTLS is not offered by " + conn->peer)};
        RawReply go = co_await conn->command("STARTTLS", "STARTTLS", t);
        if (go.code != 220) throw ReplyError{from_raw("STARTTLS", go)};
        co_await conn->start_tls(target.host, target.verify, t);
        co_await hello();
    }
    if (target.credential && !conn->caps.auth.empty()) co_await authenticate(*conn, target);
    co_return conn;
}

asio::awaitable<Reply> Transport::transaction(Connection& conn, const Target& target, const std::string& mail,
                                              const std::string& rcpt, const BuiltMessage& built, bool reset_first) {
    const Seconds t = target.timeout;
    const Capabilities& caps = conn.caps;
    const BuiltMessage* message = &built;
    BuiltMessage recoded;
    if (built.eight_bit() && !caps.eight_bit_mime) {  // no 8BITMIME: send a 7bit copy
        recoded = built.seven_bit_copy();
        message = &recoded;
    }
    if (!message->smtp_body) message->smtp_body = dot_stuffed(message->body);
    const std::string to_line = BuiltMessage::to_field(rcpt);

    std::string mail_line = "MAIL FROM:<" + mail + ">";
    if (caps.size) mail_line += " SIZE=" + std::to_string(message->size_for(rcpt));
    if (message->eight_bit()) mail_line += " BODY=8BITMIME";
    if (caps.dsn) mail_line += " RET=FULL";
    std::string rcpt_line = "RCPT TO:<" + rcpt + ">";
    if (caps.dsn) rcpt_line += " NOTIFY=FAILURE,DELAY";

    RawReply mail_reply, rcpt_reply, data_reply;
    if (caps.pipelining) {  // RFC 2920: [RSET,] MAIL, RCPT and DATA in one write, replies in order
        co_await conn.write((reset_first ? "RSET\r\n" : "") + mail_line + "\r\n" + rcpt_line + "\r\nDATA\r\n",
                            reset_first ? "RSET" : "MAIL", t);
        if (reset_first) {
            RawReply reset = co_await conn.read_reply("RSET", t);
            if (reset.code != 250)
                throw SmtpIoError(SmtpIoError::protocol, "RSET", "RSET refused by " + conn.peer);
        }
        mail_reply = co_await conn.read_reply("MAIL", t);
        rcpt_reply = co_await conn.read_reply("RCPT", t);
        data_reply = co_await conn.read_reply("DATA", t);
    } else {
        mail_reply = co_await conn.command(mail_line, "MAIL", t);
        if (mail_reply.positive()) rcpt_reply = co_await conn.command(rcpt_line, "RCPT", t);
        if (rcpt_reply.positive()) data_reply = co_await conn.command("DATA", "DATA", t);
    }
    if (data_reply.code == 354 && (!mail_reply.positive() || !rcpt_reply.positive())) {
        // The server took DATA though MAIL or RCPT failed: end it empty; the RSET before
        // the next use clears the rest.
        co_await conn.write(".\r\n", "DATA", t);
        co_await conn.read_reply("DATA", t);
    }
    if (!mail_reply.positive()) co_return from_raw("MAIL", mail_reply);
    if (!rcpt_reply.positive()) co_return from_raw("RCPT", rcpt_reply);
    if (data_reply.code != 354) co_return from_raw("DATA", data_reply);

    const std::string& body = *message->smtp_body;
    const Seconds data_timeout = t * 2 + Seconds(static_cast<long>(body.size() / (256 * 1024)));
    std::vector<asio::const_buffer> pieces{asio::buffer(message->head_before_to), asio::buffer(to_line),
                                           asio::buffer(message->head_after_to), asio::buffer(body)};
    co_await conn.write(pieces, "DATA", data_timeout);
    RawReply done = co_await conn.read_reply("DATA", data_timeout);
    ++conn.messages;
    Reply reply = from_raw("DATA", done);
    // As the original: an exchange that went through is labelled QUIT (with the relay's
    // answer to the message); a refused one keeps the command that failed.
    if (!reply.error()) reply.command = "QUIT";
    co_return reply;
}

void Transport::quit_and_close(std::shared_ptr<Connection> conn) {
    asio::co_spawn(
        executor_,
        [conn]() -> asio::awaitable<void> {
            try {
                co_await conn->command("QUIT", "QUIT", Seconds(5));
            } catch (const std::exception&) {
            }
            conn->close();
        },
        asio::detached);
}

asio::awaitable<Reply> Transport::send(const Target& target, const std::string& mail, const std::string& rcpt,
                                       const BuiltMessage& message, const Settings& settings) {
    const std::string key = pool_key(target);
    const std::size_t limit = static_cast<std::size_t>(std::max(1, settings.max_sessions_per_host));
    Reply reply;
    std::shared_ptr<Connection> conn;
    try {
        conn = co_await pool_.acquire(key, target.host + ":" + std::to_string(target.port), limit, target.timeout);
    } catch (const SmtpIoError& e) {
        reply = from_io_error(e);
        reply.host = target.host;
        reply.port = target.port;
        co_return reply;
    }
    // A warm session must be alive and clean: RSET first, in the pipelined write when the
    // server pipelines, else on its own. A dead one is replaced once; the slot stays ours.
    for (int round = 0; round < 2; ++round) {
        bool reset_in_pipeline = conn && conn->caps.pipelining;
        if (conn && !reset_in_pipeline) {
            bool alive = false;
            try {
                alive = (co_await conn->command("RSET", "RSET", target.timeout)).code == 250;
            } catch (const SmtpIoError&) {
            }
            if (!alive) {
                conn->close();
                conn.reset();
            }
        }
        try {
            if (!conn) {
                pool_.count_opened();
                spdlog::debug("opening an SMTP session to {}:{} ({} opened on this loop)", target.host, target.port, pool_.sessions_opened());
                conn = co_await open(target, settings);
            }
            reply = co_await transaction(*conn, target, mail, rcpt, message, reset_in_pipeline);
            if (settings.max_messages_per_session == 0 || conn->messages < settings.max_messages_per_session) {
                pool_.release(key, conn, true, Seconds(settings.pool_idle_timeout));
            } else {
                pool_.forfeit(key);
                quit_and_close(conn);
            }
        } catch (const SmtpIoError& e) {
            if (conn) conn->close();
            spdlog::debug("SMTP session to {}:{} failed at {}: {}", target.host, target.port, e.stage, e.what());
            if (reset_in_pipeline && e.stage == "RSET" && round == 0) {
                conn.reset();  // the warm session had died: nothing was sent, go again fresh
                continue;
            }
            reply = from_io_error(e);
            pool_.forfeit(key);
        } catch (const ReplyError& e) {
            reply = e.reply;
            if (conn) quit_and_close(conn);
            pool_.forfeit(key);
        }
        break;
    }
    reply.host = target.host;
    reply.port = target.port;
    co_return reply;
}

}  // namespace haineko::smtp
