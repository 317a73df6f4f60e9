// One intake session as the plugins see it (spec/plugins.md, "What a hook sees"): the conn
// table for the session, the txn table for the transaction, and a call per hook. The
// intake (SMTP, /submit, /v1, through pipeline/) says what happened; this turns it into
// the hook's arguments and reads back what the hook changed (addresses, header, body,
// recipients, a hold).
#pragma once
#include <boost/asio/awaitable.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "plugin/answer.hpp"

namespace haineko::plugin {

class Host;

struct ConnFacts {
    std::string id;
    std::string remote_ip;
    int remote_port = 0;
    std::optional<std::string> remote_host;  // the verified reverse name
    std::string local_ip;
    int local_port = 0;
    std::string mode;  // relay, submission, inbound, http
    std::string listener_address;
};

using Params = std::map<std::string, std::string>;  // ESMTP parameters by upper-case name

// The message at data_post and queue, and what the hooks left of it.
struct TxnMessage {
    std::string mail;
    std::vector<std::string> rcpts;
    std::string bytes;  // header and body, CRLF line ends
    std::string hold;   // the hold's reason ("" when not held)
    bool changed = false;  // the hooks changed something here
};

// What a plugin did that the message records (an OK or a rewrite at rcpt or later, a hold).
struct PluginEvent {
    std::string plugin;
    std::string hook;
    std::string answer;  // ok, rewrite or hold
    std::string text;
};

class Session {
public:
    // host may be null (no plugins): every call answers CONT at once.
    Session(std::shared_ptr<Host> host, const ConnFacts& facts);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    bool active() const { return host_ != nullptr; }
    bool watches(Hook h) const;

    boost::asio::awaitable<Result> connect();
    boost::asio::awaitable<Result> ehlo(const std::string& verb, const std::string& name);
    boost::asio::awaitable<Result> auth(const std::string& user, const std::string& mechanism);
    void tls_started(const std::string& version, const std::string& cipher);
    // A new transaction with this queue id; the sender may be rewritten.
    boost::asio::awaitable<Result> mail(const std::string& queue_id, std::string& sender, const Params& params);
    // The recipient may be rewritten. accept_rcpt() adds it to txn.rcpt_to once taken.
    boost::asio::awaitable<Result> rcpt(std::string& address, const Params& params);
    void accept_rcpt();
    boost::asio::awaitable<Result> data();
    boost::asio::awaitable<Result> data_post(TxnMessage& m);
    boost::asio::awaitable<Result> queue(TxnMessage& m);
    // outcome: what became of an open transaction (see end_transaction).
    boost::asio::awaitable<void> disconnect(const std::string& outcome = "disconnected");
    // The transaction is over (RSET, a new MAIL, a refused message, a commit): outcome is
    // "queued", "relayed", "refused", "discarded" or "reset", for hook_reset_transaction,
    // which runs at the session's next hook (a loop cannot wait here).
    void end_transaction(const std::string& outcome = "reset");
    // The transaction's recipients become this one alone (/submit: one copy per recipient).
    void only_rcpt(const std::string& address);

    const std::string& queue_id() const { return queue_id_; }
    // The events of this transaction so far.
    const std::vector<PluginEvent>& events() const { return events_; }

private:
    boost::asio::awaitable<Result> run(Hook h, int extra_ref);
    boost::asio::awaitable<Result> message_hook(Hook h, TxnMessage& m);
    void note(const Result& r, const char* answer, std::string text = {});
    // Where this hook's answers are recorded (null when no plugin reads them).
    std::vector<HookAnswer>* recording(Hook h);
    boost::asio::awaitable<void> reset_ended();

    std::shared_ptr<Host> host_;
    int conn_ = -2;  // registry refs (LUA_NOREF)
    int txn_ = -2;
    int pending_rcpt_ = -2;
    std::string queue_id_;
    std::vector<PluginEvent> events_;
    std::vector<HookAnswer> conn_answers_, txn_answers_;
    // A transaction that is over, until hook_reset_transaction has seen it.
    struct Ended {
        int txn = -2;
        std::string queue_id, outcome;
        std::vector<HookAnswer> answers;
    } ended_;
};

}  // namespace haineko::plugin
