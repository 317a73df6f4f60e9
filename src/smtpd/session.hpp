// One SMTP server session as a state machine (RFC 5321 with PIPELINING, SIZE, 8BITMIME,
// SMTPUTF8, ENHANCEDSTATUSCODES, DSN, CHUNKING, STARTTLS and AUTH PLAIN/LOGIN): it takes
// what the client sent, one command line or one finished DATA at a time, and says what to
// answer and what the connection does next. No I/O and no clock: the listener reads,
// writes, times out, runs TLS and commits to the queue; the policy comes in as callbacks,
// so that the same stage functions as HTTP decide.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtpd/command.hpp"
#include "smtpd/data_reader.hpp"

namespace haineko::smtpd {

struct SessionSettings {
    std::string hostname;                 // in the greeting and the EHLO answer
    bool submission = false;              // mode: submission needs AUTH before MAIL
    std::uint64_t max_message_size = 0;   // 0: no limit (SIZE without a number)
    std::size_t max_rcpts = 100;          // per transaction
    bool tls_offered = false;             // a certificate is configured (STARTTLS)
    bool tls_active = false;              // implicit TLS, or after STARTTLS
    bool auth_offered = false;            // a password file is in use
    bool auth_requires_tls = true;
    // The plugins watch MAIL or RCPT: the session stops after the syntax and sequence
    // checks (Next::consult), before its own policy, and goes on in on_consulted().
    bool consult_mail = false;
    bool consult_rcpt = false;
};

struct SessionPolicy {
    // relayhosts, decided at connect: may this client relay without AUTH?
    bool client_may_relay = false;
    // recipients: the refusal for this address, if any.
    std::function<std::optional<Refusal>(const std::string& rcpt)> rcpt_refusal;
    // True when the address must be confirmed by the domain's backend (Next::probe) once
    // the other checks took it.
    std::function<bool(const std::string& rcpt)> rcpt_needs_probe;
    // The password file: true when the user and password match.
    std::function<bool(const std::string& user, const std::string& password)> verify;
};

// One accepted transaction, handed to the queue at the end of its data.
struct Envelope {
    MailFrom mail;
    std::vector<RcptTo> rcpts;
    std::string auth_user;  // "" when the client did not authenticate
};

class Session {
public:
    enum class Next {
        command,    // read the next command line
        data,       // read DATA content (a DataReader) up to CRLF.CRLF
        chunk,      // read the BDAT chunk of chunk_size() octets
        start_tls,  // write the answer, then run the TLS handshake; then on_tls_started()
        commit,     // commit envelope() and message, then on_committed() or on_commit_failed()
        consult,    // ask the plugins about consulted_address(), then on_consulted()
        probe,      // ask the backend whether probed_rcpt() exists, then on_probed()
        close,      // write the answer, then close
    };
    struct Step {
        std::string answer;  // whole reply lines, CRLF-ended; may be empty
        Next next = Next::command;
    };

    Session(SessionSettings settings, SessionPolicy policy);

    std::string greeting() const;  // 220
    // One line without its CRLF; too_long when the client sent more than 512 octets.
    Step on_line(std::string_view line, bool too_long = false);
    // The end of DATA (the reader is done).
    Step on_data(const DataReader& data);
    // A BDAT chunk of chunk_size() octets (bytes as they came).
    Step on_chunk(std::string_view bytes);
    std::size_t chunk_size() const { return chunk_size_; }
    // The chunk being read is refused already (out of sequence, or past the size limit).
    bool chunk_refused() const { return chunk_failed_; }
    // This BDAT opens the message (its first chunk): where DATA's hook runs for BDAT.
    bool first_chunk() const { return first_chunk_; }
    // A plugin refused the message at its first BDAT: this chunk and the rest of the
    // transaction's are read and dropped, each answered with `refusal`.
    void refuse_chunks(Step refusal);
    // After STARTTLS's handshake: everything known before it is forgotten (RFC 3207 4.2).
    void on_tls_started();
    // The queue kept the message under this id, or could not.
    Step on_committed(const std::string& id);
    Step on_commit_failed();

    // What the plugins said of the MAIL or RCPT the session stopped at (Next::consult).
    enum class Consulted { cont, ok, refuse };
    bool consulting_rcpt() const { return consulting_ == Consulting::rcpt; }
    const std::string& consulted_address() const;
    const MailFrom& consulted_mail() const { return pending_mail_; }
    const RcptTo& consulted_rcpt() const { return pending_rcpt_; }
    // address: what the plugins left of it; reply: the refusal's whole reply line.
    Step on_consulted(Consulted answer, const std::string& address, const std::string& reply);
    // The backend's word on the RCPT the session stopped at (Next::probe): nullopt takes it.
    const std::string& probed_rcpt() const { return pending_rcpt_.address; }
    Step on_probed(const std::optional<Refusal>& refusal);
    // A plugin refused the EHLO or the AUTH just accepted: it is taken back.
    void take_back_helo() {
        helo_.clear();
        extended_ = false;
        reset_transaction();
    }
    void take_back_auth() { auth_user_.clear(); }

    // A milter refused the MAIL or the RCPT just accepted: it is taken back.
    void take_back_mail() { reset_transaction(); }
    void take_back_rcpt() {
        if (!envelope_.rcpts.empty()) envelope_.rcpts.pop_back();
    }
    // The message was refused after its data (by a milter): this reply, and a new transaction.
    Step on_filtered(std::string reply) {
        reset_transaction();
        return Step{std::move(reply), Next::command};
    }

    const Envelope& envelope() const { return envelope_; }
    const std::string& message() const { return message_; }
    const std::string& helo_name() const { return helo_; }
    const std::string& auth_user() const { return auth_user_; }
    const std::string& auth_mechanism() const { return auth_mechanism_; }  // PLAIN or LOGIN
    bool tls_active() const { return settings_.tls_active; }
    bool extended() const { return extended_; }  // EHLO, so PIPELINING was offered
    bool in_auth_exchange() const { return auth_step_ != AuthStep::none; }  // a 334 awaits its answer

private:
    Step ehlo(const Command& c, bool extended);
    Step mail(const Command& c);
    Step rcpt(const Command& c);
    Step data(const Command& c);
    Step bdat(const Command& c);
    Step auth(const Command& c);
    Step auth_answer(std::string_view line);
    Step finish_auth(std::string user, const std::string& password);  // a copy: login_user_ is cleared
    Step end_of_message(bool bare_line_end, bool too_large);
    Step accept_mail(MailFrom m);
    Step accept_rcpt(RcptTo r, bool policy_checked);
    void reset_transaction();

    SessionSettings settings_;
    SessionPolicy policy_;
    std::string helo_;
    bool extended_ = false;
    std::string auth_user_;
    enum class AuthStep { none, plain, login_user, login_password } auth_step_ = AuthStep::none;
    std::string login_user_;
    std::string auth_mechanism_;
    bool in_transaction_ = false;  // after a good MAIL
    Envelope envelope_;
    std::string message_;
    bool chunking_ = false;  // a BDAT transaction is under way
    bool chunk_last_ = false;
    bool chunk_failed_ = false;  // a chunk was refused: the rest are read and dropped
    bool first_chunk_ = false;
    std::optional<Step> chunk_refusal_;  // refuse_chunks()
    std::size_t chunk_size_ = 0;
    bool chunk_bare_ = false;  // a bare CR or LF in the chunks so far
    bool chunk_cr_ = false;    // the last chunk ended in CR
    enum class Consulting { none, mail, rcpt } consulting_ = Consulting::none;
    bool probing_ = false;  // a RCPT waits for on_probed()
    MailFrom pending_mail_;
    RcptTo pending_rcpt_;
};

}  // namespace haineko::smtpd
