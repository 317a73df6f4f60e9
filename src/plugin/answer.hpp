// What one hook answered (spec/plugins.md, "Hooks"): the answer constant, with the
// plugin's text, SMTP code and enhanced code when it gave them. A failed hook (an error,
// a limit passed) has answered its on_error already, and says why in failure.
#pragma once
#include <string>

namespace haineko::plugin {

enum class Answer { cont, ok, deny, denysoft, deny_disconnect, denysoft_disconnect };

// The stages and delivery hooks, named as outside Lua ("rcpt", "data_post").
// reset_transaction (Haraka's name) is ours beyond the contract: a transaction is over.
enum class Hook { connect, ehlo, auth, mail, rcpt, data, data_post, queue, disconnect,
                  get_route, delivered, deferred, bounce, reset_transaction };
constexpr int kHookCount = 14;

const char* hook_name(Hook h);
const char* answer_name(Answer a);  // "cont", "ok", "deny", ... (the metrics' result label)

// One plugin's answer to one hook call of a transaction, for hook_reset_transaction's
// txn.results.
struct HookAnswer {
    std::string plugin;
    Hook hook;
    Answer answer;
    std::string text;
};

struct Result {
    Answer answer = Answer::cont;
    std::string text;  // the plugin's text, "" when it gave none
    int code = 0;      // the plugin's SMTP code, 0 when it gave none
    std::string dsn;   // the plugin's enhanced code, "" when it gave none
    std::string plugin;  // who answered (empty for cont)
    Hook hook = Hook::connect;
    std::string failure;  // why the hook failed ("" when it answered)

    bool refused() const { return answer != Answer::cont && answer != Answer::ok; }
    bool temporary() const { return answer == Answer::denysoft || answer == Answer::denysoft_disconnect; }
    bool disconnects() const { return answer == Answer::deny_disconnect || answer == Answer::denysoft_disconnect; }
    // The SMTP reply's code, enhanced code and text, with the contract's defaults.
    int smtp_code() const;
    std::string smtp_dsn() const;
    std::string smtp_text() const;
    std::string smtp_reply() const;  // "550 5.7.1 text\r\n"
};

}  // namespace haineko::plugin
