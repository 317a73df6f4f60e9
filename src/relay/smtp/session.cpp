#include "relay/smtp/session.hpp"

#include "core/base64.hpp"

namespace haineko::smtp {
namespace {

namespace asio = boost::asio;

// Each stage's reply, or the session ends here.
void expect(const std::string& stage, const RawReply& raw, int code, const std::string& peer) {
    if (raw.code != code) throw ReplyError{stage_error(stage, raw, std::to_string(code), peer)};
}

asio::awaitable<void> authenticate(Connection& conn, const Target& target) {
    const Credential& cred = *target.credential;
    if (!conn.tls_active && !target.auth_plaintext)
        throw ReplyError{local_reply(530, "5.7.0", "AUTH",
                                    "AUTH refused over an unencrypted connection to " + conn.peer +
                                        " (set starttls: 1, ssl: 1, or auth_plaintext: 1 in the route)")};
    const std::string mech = strongest_auth(conn.caps);
    if (mech.empty())
        throw ReplyError{local_reply(504, "5.5.4", "AUTH", "No AUTH mechanism we support is offered by " + conn.peer)};
    const Seconds t = target.timeout;
    if (mech == "PLAIN") {
        RawReply r = co_await conn.command("AUTH PLAIN " + auth_plain_token(cred.username, cred.password), "AUTH", t);
        expect("AUTH", r, 235, conn.peer);
    } else if (mech == "LOGIN") {
        expect("AUTH", co_await conn.command("AUTH LOGIN", "AUTH", t), 334, conn.peer);
        expect("AUTH", co_await conn.command(base64_encode(cred.username), "AUTH", t), 334, conn.peer);
        expect("AUTH", co_await conn.command(base64_encode(cred.password), "AUTH", t), 235, conn.peer);
    } else {
        RawReply r = co_await conn.command("AUTH CRAM-MD5", "AUTH", t);
        expect("AUTH", r, 334, conn.peer);
        std::string challenge = r.lines.back().size() > 4 ? r.lines.back().substr(4) : "";
        auto answer = cram_md5_answer(cred.username, cred.password, challenge);
        expect("AUTH", co_await conn.command(answer ? *answer : "*", "AUTH", t), 235, conn.peer);
    }
}

asio::awaitable<void> hello(Connection& conn, const Target& target) {
    const Seconds t = target.timeout;
    RawReply ehlo = co_await conn.command("EHLO " + target.helo, "EHLO", t);
    if (ehlo.code == 250) {
        conn.caps = parse_ehlo(ehlo.lines);
        co_return;
    }
    // Only a server that does not know EHLO gets HELO; a busy one (4xx) is an error.
    if (ehlo.code < 500 || ehlo.code > 599) throw ReplyError{stage_error("EHLO", ehlo, "250", conn.peer)};
    expect("HELO", co_await conn.command("HELO " + target.helo, "HELO", t), 250, conn.peer);
    conn.caps = Capabilities{};
}

}  // namespace

Reply local_reply(int code, const std::string& dsn, const std::string& command, const std::string& text) {
    Reply r;
    r.code = code;
    r.dsn = dsn;
    r.command = command;
    r.message = {text};
    return r;
}

Reply reply_from(const std::string& stage, const RawReply& raw) { return parse_smtp_reply(stage, raw.lines); }

Reply stage_error(const std::string& stage, const RawReply& raw, const std::string& expected, const std::string& peer) {
    if (raw.code >= 400 && raw.code <= 599) return reply_from(stage, raw);
    Reply r = local_reply(451, "4.5.0", stage,
                         "Unexpected reply from " + peer + " to " + stage + " (expected " + expected + ")");
    for (const auto& line : raw.lines) r.message.push_back(line);
    return r;
}

Reply reply_from(const SmtpIoError& e) {
    switch (e.kind) {
        case SmtpIoError::connect: {
            Reply r = named_reply("conn", "cannot-connect");  // the contract's one line
            r.cause = e.what();
            return r;
        }
        case SmtpIoError::timeout:
        case SmtpIoError::closed:
            return local_reply(421, "4.4.2", e.stage, e.what());
        case SmtpIoError::tls:
            return local_reply(421, "4.7.0", e.stage, e.what());
        case SmtpIoError::protocol:
            return local_reply(421, "4.5.0", e.stage, e.what());
    }
    return local_reply(421, "4.0.0", e.stage, e.what());
}

asio::awaitable<std::shared_ptr<Connection>> open_session(asio::any_io_executor executor,
                                                          std::shared_ptr<asio::ssl::context> tls, const Target& target) {
    auto conn = std::make_shared<Connection>(executor, std::move(tls));
    const Seconds t = target.timeout;
    co_await conn->connect(target.host, target.port, target.addresses, t);
    if (target.implicit_tls) co_await conn->start_tls(target.host, target.verify, t, "CONN");
    expect("CONN", co_await conn->read_reply("CONN", t), 220, conn->peer);
    co_await hello(*conn, target);
    if (target.starttls && !conn->tls_active) {
        if (!conn->caps.starttls)
            throw ReplyError{local_reply(530, "5.7.0", "STARTTLS", "STARTTLS is not offered by " + conn->peer)};
        expect("STARTTLS", co_await conn->command("STARTTLS", "STARTTLS", t), 220, conn->peer);
        co_await conn->start_tls(target.host, target.verify, t);
        co_await hello(*conn, target);
    }
    if (target.credential && !conn->caps.auth.empty()) co_await authenticate(*conn, target);
    co_return conn;
}

Target target_for(const Route& route, const Config& config, const Credential* credential, const std::string& host) {
    Target target;
    target.host = host;
    target.port = route.port;
    target.implicit_tls = route.ssl;
    target.starttls = route.starttls;
    target.verify = route.tls_verify;
    target.auth_plaintext = route.auth_plaintext;
    if (credential) target.credential = *credential;
    target.timeout = Seconds(route.timeout);
    target.helo = config.smtpd.helo_name;
    return target;
}

}  // namespace haineko::smtp
