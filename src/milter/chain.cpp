#include "milter/chain.hpp"

#include <spdlog/spdlog.h>

#include "core/text.hpp"

namespace haineko::milter {

namespace asio = boost::asio;

struct Chain::Entry {
    enum class State { live, done_for_session, done_for_message, broken };
    MilterSettings settings;
    std::unique_ptr<Filter> filter;
    State state = State::live;
};

namespace {

const char* on_error_name(MilterSettings::OnError e) {
    return e == MilterSettings::OnError::tempfail ? "tempfail" : e == MilterSettings::OnError::accept ? "accept" : "reject";
}

}  // namespace

std::string Verdict::smtp_reply() const {
    std::string clean;
    for (char c : text) clean += (c == '\r' || c == '\n') ? ' ' : c;
    return std::to_string(code) + " " + dsn + " " + clean + "\r\n";
}

Chain::Chain(asio::any_io_executor executor, const std::vector<MilterSettings>& milters) : executor_(executor) {
    for (const auto& m : milters) {
        auto e = std::make_unique<Entry>();
        e->settings = m;
        e->filter = std::make_unique<Filter>(executor, m);
        entries_.push_back(std::move(e));
    }
}

Chain::~Chain() = default;

// What a filter that cannot be asked stands for: its on_error, at every stage after.
static Verdict broken_verdict(const MilterSettings& m, const char* stage) {
    Verdict v;
    v.stage = stage;
    v.filter = m.socket;
    if (m.on_error == MilterSettings::OnError::tempfail) {
        v.kind = Verdict::Kind::tempfail;
        v.code = 451;
        v.dsn = "4.7.1";
        v.text = "Service unavailable - try again later";
    } else if (m.on_error == MilterSettings::OnError::reject) {
        v.kind = Verdict::Kind::reject;
        v.code = 550;
        v.dsn = "5.7.1";
        v.text = "Command rejected";
    }
    return v;
}

Verdict Chain::failed(Entry& e, const char* stage, const std::string& why) {
    spdlog::warn("{} at {}; on_error {}", why, stage, on_error_name(e.settings.on_error));
    e.state = Entry::State::broken;
    e.filter = std::make_unique<Filter>(executor_, e.settings);  // closes the broken connection
    return broken_verdict(e.settings, stage);
}

asio::awaitable<Verdict> Chain::each(const char* stage, bool session_wide,
                                     const std::function<asio::awaitable<Answer>(Filter&)>& ask) {
    for (auto& e : entries_) {
        if (e->state == Entry::State::broken) {
            Verdict v = broken_verdict(e->settings, stage);
            if (v.kind != Verdict::Kind::go_on) co_return v;
            continue;
        }
        if (e->state != Entry::State::live) continue;
        Answer a;
        try {
            a = co_await ask(*e->filter);
        } catch (const FilterError& x) {
            Verdict v = failed(*e, stage, x.what());
            if (v.kind != Verdict::Kind::go_on) co_return v;
            continue;
        }
        if (a.kind == Answer::Kind::go_on) continue;
        if (a.kind == Answer::Kind::accept) {
            e->state = session_wide ? Entry::State::done_for_session : Entry::State::done_for_message;
            continue;
        }
        Verdict v;
        v.stage = stage;
        v.filter = e->settings.socket;
        v.kind = a.kind == Answer::Kind::discard ? Verdict::Kind::discard
                 : a.kind == Answer::Kind::reject ? Verdict::Kind::reject
                                                  : Verdict::Kind::tempfail;
        v.code = a.code;
        v.dsn = a.dsn;
        v.text = a.text;
        co_return v;
    }
    co_return Verdict{};
}

asio::awaitable<Verdict> Chain::connect(const ClientFacts& client) {
    client_ = client;
    const std::string name = "[" + client.address + "]";
    const Macros macros{{"j", client.our_hostname},
                        {"{daemon_name}", client.daemon_name},
                        {"{client_addr}", client.address},
                        {"{client_port}", std::to_string(client.port)},
                        {"{client_name}", name},
                        {"_", name + " [" + client.address + "]"},
                        {"v", "Haineko " HAINEKO_VERSION}};
    auto ask = [&](Filter& f) -> asio::awaitable<Answer> {
        co_await f.open();
        co_return co_await f.connect(name, client.address, client.port, macros);
    };
    co_return co_await each("CONNECT", true, ask);
}

asio::awaitable<Verdict> Chain::helo(const std::string& helo_name) {
    Macros macros;
    if (!client_.tls_version.empty()) {
        macros = {{"{tls_version}", client_.tls_version}, {"{cipher}", client_.tls_cipher}};
    }
    auto ask = [&](Filter& f) -> asio::awaitable<Answer> { co_return co_await f.helo(helo_name, macros); };
    co_return co_await each("EHLO", true, ask);
}

asio::awaitable<Verdict> Chain::mail(const std::string& sender, const std::vector<std::string>& args) {
    in_transaction_ = true;
    sender_ = sender;
    Macros macros{{"{mail_addr}", sender}};
    if (!client_.auth_user.empty()) {
        macros.emplace_back("{auth_authen}", client_.auth_user);
        macros.emplace_back("{auth_type}", client_.auth_type.empty() ? "PLAIN" : client_.auth_type);
    }
    auto ask = [&](Filter& f) -> asio::awaitable<Answer> { co_return co_await f.mail(sender, args, macros); };
    co_return co_await each("MAIL", false, ask);
}

asio::awaitable<Verdict> Chain::rcpt(const std::string& rcpt, const std::vector<std::string>& args) {
    const Macros macros{{"{rcpt_addr}", rcpt}};
    auto ask = [&](Filter& f) -> asio::awaitable<Answer> { co_return co_await f.rcpt(rcpt, args, macros); };
    co_return co_await each("RCPT", false, ask);
}

asio::awaitable<Verdict> Chain::message(Editable& message, const std::string& queue_id) {
    const Macros macros{{"i", queue_id}};
    bool quarantined = false;
    std::string reason;
    auto ask = [&](Filter& f) -> asio::awaitable<Answer> {
        EndOfMessage end = co_await f.message(message, macros);
        if (end.quarantined) {
            quarantined = true;
            if (reason.empty()) reason = end.quarantine_reason;
        }
        co_return end.answer;
    };
    Verdict v = co_await each("DATA", false, ask);
    // A refusal leaves the filters after it mid-message: they are told it is over.
    if (v.kind != Verdict::Kind::go_on) co_await abort();
    in_transaction_ = false;
    for (auto& e : entries_)
        if (e->state == Entry::State::done_for_message) e->state = Entry::State::live;
    v.quarantined = quarantined;
    v.quarantine_reason = reason;
    co_return v;
}

asio::awaitable<void> Chain::abort() {
    if (!in_transaction_) co_return;
    in_transaction_ = false;
    for (auto& e : entries_) {
        if (e->state == Entry::State::done_for_message) e->state = Entry::State::live;
        if (e->state != Entry::State::live) continue;
        try {
            co_await e->filter->abort();
        } catch (const FilterError& x) {
            failed(*e, "RSET", x.what());
        }
    }
}

asio::awaitable<void> Chain::close() {
    for (auto& e : entries_) co_await e->filter->quit();
}

}  // namespace haineko::milter
