#include "smtpd/session.hpp"

#include <charconv>

#include "core/base64.hpp"
#include "core/text.hpp"

namespace haineko::smtpd {

namespace {

constexpr int kMaxReceived = 50;  // more Received fields than this is a loop (RFC 5321 6.3)

std::string line(int code, std::string_view dsn, std::string_view text) {
    std::string out = std::to_string(code);
    out += ' ';
    out += dsn;
    out += ' ';
    out += text;
    out += "\r\n";
    return out;
}

Session::Step answer(int code, std::string_view dsn, std::string_view text,
                     Session::Next next = Session::Next::command) {
    return Session::Step{line(code, dsn, text), next};
}

Session::Step refused(const Refusal& r) { return answer(r.code, r.dsn, r.text); }

Session::Step bad_sequence(std::string_view text) { return answer(503, "5.5.1", text); }

// Received fields in the message's header (up to the first empty line).
int received_fields(std::string_view message) {
    int count = 0;
    std::size_t pos = 0;
    while (pos < message.size()) {
        std::size_t eol = message.find("\r\n", pos);
        if (eol == std::string_view::npos) eol = message.size();
        if (eol == pos) break;  // the end of the header
        if (message.size() - pos >= 9 && to_lower(message.substr(pos, 9)) == "received:") ++count;
        pos = eol + 2;
    }
    return count;
}

}  // namespace

Session::Session(SessionSettings settings, SessionPolicy policy)
    : settings_(std::move(settings)), policy_(std::move(policy)) {}

std::string Session::greeting() const { return "220 " + settings_.hostname + " ESMTP Haineko\r\n"; }

void Session::reset_transaction() {
    in_transaction_ = false;
    envelope_ = Envelope{};
    message_.clear();
    chunking_ = chunk_last_ = chunk_failed_ = chunk_bare_ = chunk_cr_ = first_chunk_ = false;
    chunk_size_ = 0;
    chunk_refusal_.reset();
    consulting_ = Consulting::none;
    probing_ = false;
}

Session::Step Session::on_line(std::string_view text, bool too_long) {
    if (auth_step_ != AuthStep::none) {
        if (too_long) {
            auth_step_ = AuthStep::none;
            return answer(500, "5.5.2", "Error: line too long");
        }
        return auth_answer(text);
    }
    if (too_long) return answer(500, "5.5.2", "Error: line too long");
    const Command c = parse_command(text);
    switch (c.verb) {
    case Verb::ehlo:
        return ehlo(c, true);
    case Verb::helo:
        return ehlo(c, false);
    case Verb::mail:
        return mail(c);
    case Verb::rcpt:
        return rcpt(c);
    case Verb::data:
        return data(c);
    case Verb::bdat:
        return bdat(c);
    case Verb::rset:
        reset_transaction();
        return answer(250, "2.0.0", "Ok");
    case Verb::noop:
        return answer(250, "2.0.0", "Ok");
    case Verb::quit:
        return answer(221, "2.0.0", "Bye", Next::close);
    case Verb::vrfy:
        return answer(252, "2.0.0", "Cannot VRFY user, but will accept message and attempt delivery");
    case Verb::help:
        return answer(214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH");
    case Verb::starttls:
        if (!settings_.tls_offered) return answer(502, "5.5.1", "Error: command not implemented");
        if (settings_.tls_active) return answer(554, "5.5.1", "Error: TLS already active");
        if (!c.arg.empty()) return answer(501, "5.5.4", "Syntax: STARTTLS");
        if (in_transaction_) return bad_sequence("Error: MAIL transaction in progress");
        return answer(220, "2.0.0", "Ready to start TLS", Next::start_tls);
    case Verb::auth:
        return auth(c);
    case Verb::unknown:
        break;
    }
    if (c.name.empty()) return answer(500, "5.5.2", "Error: bad syntax");
    return answer(502, "5.5.2", "Error: command not recognized");
}

Session::Step Session::ehlo(const Command& c, bool extended) {
    if (c.arg.empty()) return answer(501, "5.5.4", extended ? "Syntax: EHLO hostname" : "Syntax: HELO hostname");
    reset_transaction();
    helo_ = c.arg;
    extended_ = extended;
    if (!extended) return Step{"250 " + settings_.hostname + "\r\n", Next::command};
    std::vector<std::string> keywords{"PIPELINING"};
    keywords.push_back(settings_.max_message_size ? "SIZE " + std::to_string(settings_.max_message_size) : "SIZE");
    for (const char* k : {"8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "DSN", "CHUNKING"}) keywords.emplace_back(k);
    if (settings_.tls_offered && !settings_.tls_active) keywords.emplace_back("STARTTLS");
    if (settings_.auth_offered && (settings_.tls_active || !settings_.auth_requires_tls))
        keywords.emplace_back("AUTH PLAIN LOGIN");
    std::string out = "250-" + settings_.hostname + "\r\n";
    for (std::size_t i = 0; i < keywords.size(); ++i)
        out += (i + 1 == keywords.size() ? "250 " : "250-") + keywords[i] + "\r\n";
    return Step{out, Next::command};
}

Session::Step Session::mail(const Command& c) {
    if (helo_.empty()) return bad_sequence("Error: send HELO/EHLO first");
    if (in_transaction_) return bad_sequence("Error: nested MAIL command");
    if (settings_.submission && auth_user_.empty()) return answer(530, "5.7.0", "Authentication required");
    auto parsed = parse_mail_from(c.arg);
    if (auto* r = std::get_if<Refusal>(&parsed)) return refused(*r);
    MailFrom& m = std::get<MailFrom>(parsed);
    if (settings_.consult_mail) {
        pending_mail_ = std::move(m);
        consulting_ = Consulting::mail;
        return Step{"", Next::consult};
    }
    return accept_mail(std::move(m));
}

Session::Step Session::accept_mail(MailFrom m) {
    if (settings_.max_message_size && m.size && *m.size > settings_.max_message_size)
        return answer(552, "5.3.4", "Message size exceeds fixed limit");
    in_transaction_ = true;
    envelope_.mail = std::move(m);
    envelope_.auth_user = auth_user_;
    return answer(250, "2.1.0", "Ok");
}

const std::string& Session::consulted_address() const {
    return consulting_ == Consulting::rcpt ? pending_rcpt_.address : pending_mail_.address;
}

Session::Step Session::on_consulted(Consulted a, const std::string& address, const std::string& reply) {
    const Consulting what = consulting_;
    consulting_ = Consulting::none;
    if (what == Consulting::none) return bad_sequence("Error: nothing was asked");
    if (a == Consulted::refuse) return Step{reply, Next::command};
    if (what == Consulting::mail) {
        MailFrom m = std::move(pending_mail_);
        m.address = address;
        return accept_mail(std::move(m));
    }
    RcptTo r = std::move(pending_rcpt_);
    r.address = address;
    // A plugin's OK stands in for the relay and recipients checks (spec/plugins.md).
    return accept_rcpt(std::move(r), a == Consulted::ok);
}

Session::Step Session::rcpt(const Command& c) {
    if (!in_transaction_) return bad_sequence("Error: need MAIL command");
    if (chunking_) return bad_sequence("Error: BDAT in progress");
    if (envelope_.rcpts.size() >= settings_.max_rcpts) return answer(452, "4.5.3", "Error: too many recipients");
    auto parsed = parse_rcpt_to(c.arg, envelope_.mail.smtputf8);
    if (auto* r = std::get_if<Refusal>(&parsed)) return refused(*r);
    RcptTo& r = std::get<RcptTo>(parsed);
    if (settings_.consult_rcpt) {
        pending_rcpt_ = std::move(r);
        consulting_ = Consulting::rcpt;
        return Step{"", Next::consult};
    }
    return accept_rcpt(std::move(r), false);
}

Session::Step Session::accept_rcpt(RcptTo r, bool policy_checked) {
    if (!policy_checked) {
        if (!policy_.client_may_relay && auth_user_.empty()) return answer(554, "5.7.1", "Relay access denied");
        if (policy_.rcpt_refusal)
            if (auto refusal = policy_.rcpt_refusal(r.address)) return refused(*refusal);
        if (policy_.rcpt_needs_probe && policy_.rcpt_needs_probe(r.address)) {
            pending_rcpt_ = std::move(r);
            probing_ = true;
            return Step{"", Next::probe};
        }
    }
    envelope_.rcpts.push_back(std::move(r));
    return answer(250, "2.1.5", "Ok");
}

Session::Step Session::on_probed(const std::optional<Refusal>& refusal) {
    if (!probing_) return bad_sequence("Error: nothing was asked");
    probing_ = false;
    if (refusal) return refused(*refusal);
    envelope_.rcpts.push_back(std::move(pending_rcpt_));
    return answer(250, "2.1.5", "Ok");
}

Session::Step Session::data(const Command& c) {
    if (!in_transaction_) return bad_sequence("Error: need MAIL command");
    if (chunking_) return bad_sequence("Error: BDAT in progress");
    if (envelope_.rcpts.empty()) return answer(554, "5.5.1", "Error: no valid recipients");
    if (!c.arg.empty()) return answer(501, "5.5.4", "Syntax: DATA");
    return Step{"354 End data with <CR><LF>.<CR><LF>\r\n", Next::data};
}

Session::Step Session::on_data(const DataReader& reader) {
    message_ = reader.message();
    const bool too_large = reader.too_large() || (settings_.max_message_size && reader.size() > settings_.max_message_size);
    return end_of_message(reader.bare_line_end(), too_large);
}

Session::Step Session::end_of_message(bool bare_line_end, bool too_large) {
    if (bare_line_end) {
        reset_transaction();
        return answer(554, "5.6.0", "Message refused: a bare CR or LF in its content (SMTP smuggling)");
    }
    if (too_large) {
        reset_transaction();
        return answer(552, "5.3.4", "Error: message file too big");
    }
    if (received_fields(message_) > kMaxReceived) {
        reset_transaction();
        return answer(554, "5.4.6", "Too many hops: mail loop");
    }
    return Step{"", Next::commit};
}

Session::Step Session::on_committed(const std::string& id) {
    reset_transaction();
    return answer(250, "2.0.0", "Ok: queued as " + id);
}

Session::Step Session::on_commit_failed() {
    reset_transaction();
    return answer(451, "4.3.0", "Error: queue file write error, try again later");
}

Session::Step Session::bdat(const Command& c) {
    // "BDAT size [LAST]": without a size the chunk cannot be found in the stream.
    std::string_view arg = c.arg;
    const auto space = arg.find(' ');
    const std::string_view size_text = arg.substr(0, space);
    std::size_t size = 0;
    auto [ptr, ec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size);
    const std::string_view rest = space == std::string_view::npos ? std::string_view() : arg.substr(space + 1);
    if (size_text.empty() || ec != std::errc() || ptr != size_text.data() + size_text.size() ||
        (!rest.empty() && to_upper(rest) != "LAST"))
        return answer(501, "5.5.4", "Syntax: BDAT size [LAST]", Next::close);
    chunk_size_ = size;
    chunk_last_ = !rest.empty();
    first_chunk_ = false;
    // Refused or not, the chunk's octets follow and are read (RFC 3030 2).
    if (chunk_refusal_ || !in_transaction_ || envelope_.rcpts.empty()) {
        chunk_failed_ = true;
        return Step{"", Next::chunk};
    }
    first_chunk_ = !chunking_;
    chunking_ = true;
    return Step{"", Next::chunk};
}

void Session::refuse_chunks(Step refusal) {
    chunk_refusal_ = std::move(refusal);
    chunking_ = false;
    chunk_failed_ = true;
    message_.clear();
}

Session::Step Session::on_chunk(std::string_view bytes) {
    if (chunk_refusal_) return *chunk_refusal_;
    if (chunk_failed_ && !chunking_) {
        chunk_failed_ = false;
        return in_transaction_ ? answer(554, "5.5.1", "Error: no valid recipients")
                               : bad_sequence("Error: need MAIL command");
    }
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        const bool cr_before = i == 0 ? chunk_cr_ : bytes[i - 1] == '\r';
        if (bytes[i] == '\n' && !cr_before) chunk_bare_ = true;
        if (cr_before && bytes[i] != '\n') chunk_bare_ = true;
    }
    if (!bytes.empty()) chunk_cr_ = bytes.back() == '\r';
    if (settings_.max_message_size && message_.size() + bytes.size() > settings_.max_message_size)
        chunk_failed_ = true;
    else
        message_.append(bytes);
    if (!chunk_last_)
        return chunk_failed_ ? answer(552, "5.3.4", "Error: message file too big")
                             : answer(250, "2.0.0", "Ok: " + std::to_string(bytes.size()) + " octets received");
    if (chunk_cr_) chunk_bare_ = true;  // the message ends in a CR alone
    return end_of_message(chunk_bare_, chunk_failed_);
}

Session::Step Session::auth(const Command& c) {
    if (!settings_.auth_offered) return bad_sequence("Error: authentication not enabled");
    if (helo_.empty()) return bad_sequence("Error: send HELO/EHLO first");
    if (!auth_user_.empty()) return bad_sequence("Error: already authenticated");
    if (in_transaction_) return bad_sequence("Error: MAIL transaction in progress");
    if (settings_.auth_requires_tls && !settings_.tls_active)
        return answer(538, "5.7.11", "Encryption required for requested authentication mechanism");
    const auto space = c.arg.find(' ');
    const std::string mechanism = to_upper(std::string_view(c.arg).substr(0, space));
    const std::string initial = space == std::string::npos ? "" : c.arg.substr(space + 1);
    if (mechanism == "PLAIN" || mechanism == "LOGIN") auth_mechanism_ = mechanism;
    if (mechanism == "PLAIN") {
        if (initial.empty()) {
            auth_step_ = AuthStep::plain;
            return Step{"334 \r\n", Next::command};
        }
        auth_step_ = AuthStep::plain;
        return auth_answer(initial == "=" ? "" : initial);
    }
    if (mechanism == "LOGIN") {
        if (initial.empty()) {
            auth_step_ = AuthStep::login_user;
            return Step{"334 VXNlcm5hbWU6\r\n", Next::command};  // "Username:"
        }
        auth_step_ = AuthStep::login_user;
        return auth_answer(initial);
    }
    return answer(504, "5.5.4", "Unsupported authentication mechanism");
}

Session::Step Session::auth_answer(std::string_view text) {
    const AuthStep step = auth_step_;
    auth_step_ = AuthStep::none;
    if (text == "*") return answer(501, "5.7.0", "Authentication aborted");
    auto decoded = base64_decode(text);
    if (!decoded) return answer(501, "5.5.2", "Cannot decode the response");
    switch (step) {
    case AuthStep::plain: {
        // authzid NUL authcid NUL password (RFC 4616); an authzid other than the user is not allowed.
        const auto first = decoded->find('\0');
        const auto second = first == std::string::npos ? first : decoded->find('\0', first + 1);
        if (second == std::string::npos) return answer(501, "5.5.2", "Cannot decode the response");
        const std::string authzid = decoded->substr(0, first);
        const std::string user = decoded->substr(first + 1, second - first - 1);
        if (!authzid.empty() && authzid != user) return answer(535, "5.7.8", "Authentication credentials invalid");
        return finish_auth(user, decoded->substr(second + 1));
    }
    case AuthStep::login_user:
        login_user_ = *decoded;
        auth_step_ = AuthStep::login_password;
        return Step{"334 UGFzc3dvcmQ6\r\n", Next::command};  // "Password:"
    case AuthStep::login_password:
        return finish_auth(login_user_, *decoded);
    case AuthStep::none:
        break;
    }
    return answer(501, "5.5.2", "Cannot decode the response");
}

Session::Step Session::finish_auth(std::string user, const std::string& password) {
    login_user_.clear();
    if (user.empty() || !policy_.verify || !policy_.verify(user, password))
        return answer(535, "5.7.8", "Authentication credentials invalid");
    auth_user_ = std::move(user);
    return answer(235, "2.7.0", "Authentication successful");
}

void Session::on_tls_started() {
    settings_.tls_active = true;
    helo_.clear();
    extended_ = false;
    auth_user_.clear();
    auth_step_ = AuthStep::none;
    reset_transaction();
}

}  // namespace haineko::smtpd
