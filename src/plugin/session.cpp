#include "plugin/session.hpp"

#include <functional>

#include "plugin/header_fields.hpp"
#include "plugin/host.hpp"

namespace haineko::plugin {

namespace {

namespace asio = boost::asio;

Result cont(Hook h) {
    Result r;
    r.hook = h;
    return r;
}

void push_string(lua_State* L, const std::string& s) { lua_pushlstring(L, s.data(), s.size()); }

void push_params(lua_State* L, const Params& params) {
    lua_createtable(L, 0, static_cast<int>(params.size()));
    for (const auto& [k, v] : params) {
        push_string(L, v);
        lua_setfield(L, -2, k.c_str());
    }
}

// The field's address as a string ("" when a plugin set something else).
std::string address_field(lua_State* L, int ref) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_getfield(L, -1, "address");
    std::string out = string_at(L, -1);
    lua_pop(L, 2);
    return out;
}

}  // namespace

Session::Session(std::shared_ptr<Host> host, const ConnFacts& f) : host_(std::move(host)) {
    if (host_ && host_->empty()) host_.reset();
    if (!host_) return;
    lua_State* L = host_->state().get();
    host_->push_helper(L, "conn");
    push_string(L, f.id);
    push_string(L, f.remote_ip);
    lua_pushinteger(L, f.remote_port);
    if (f.remote_host) push_string(L, *f.remote_host);
    else lua_pushnil(L);
    push_string(L, f.local_ip);
    lua_pushinteger(L, f.local_port);
    push_string(L, f.mode);
    push_string(L, f.listener_address);
    if (host_->call_helper(L, 8, 1)) conn_ = luaL_ref(L, LUA_REGISTRYINDEX);
    else host_.reset();
}

Session::~Session() {
    if (!host_) return;
    end_transaction();
    luaL_unref(host_->state().get(), LUA_REGISTRYINDEX, ended_.txn);  // never seen: the session was cut short
    luaL_unref(host_->state().get(), LUA_REGISTRYINDEX, conn_);
}

bool Session::watches(Hook h) const { return host_ && host_->any(h); }

void Session::note(const Result& r, const char* answer, std::string text) {
    events_.push_back(PluginEvent{r.plugin, hook_name(r.hook), answer, text.empty() ? r.text : std::move(text)});
}

std::vector<HookAnswer>* Session::recording(Hook h) {
    if (!watches(Hook::reset_transaction) || h == Hook::reset_transaction || h == Hook::disconnect) return nullptr;
    const bool conn_level = h == Hook::connect || h == Hook::ehlo || h == Hook::auth;
    return conn_level ? &conn_answers_ : &txn_answers_;
}

namespace {

// txn.results (every answer of the session's and the transaction's hooks, in order) and
// txn.outcome, for hook_reset_transaction.
void push_results(lua_State* L, const std::vector<HookAnswer>& conn, const std::vector<HookAnswer>& txn) {
    lua_createtable(L, static_cast<int>(conn.size() + txn.size()), 0);
    lua_Integer i = 0;
    for (const auto* list : {&conn, &txn}) {
        for (const HookAnswer& a : *list) {
            lua_createtable(L, 0, 4);
            push_string(L, a.plugin);
            lua_setfield(L, -2, "plugin");
            lua_pushstring(L, hook_name(a.hook));
            lua_setfield(L, -2, "hook");
            lua_pushstring(L, answer_name(a.answer));
            lua_setfield(L, -2, "answer");
            push_string(L, a.text);
            lua_setfield(L, -2, "text");
            lua_rawseti(L, -2, ++i);
        }
    }
}

}  // namespace

asio::awaitable<void> Session::reset_ended() {
    if (!host_ || ended_.txn == LUA_NOREF) co_return;
    Ended ended = std::move(ended_);
    ended_ = Ended{};
    ended_.txn = LUA_NOREF;
    lua_State* L = host_->state().get();
    lua_rawgeti(L, LUA_REGISTRYINDEX, ended.txn);
    push_results(L, conn_answers_, ended.answers);
    lua_setfield(L, -2, "results");
    push_string(L, ended.outcome);
    lua_setfield(L, -2, "outcome");
    lua_pop(L, 1);
    const PushArgs args = [conn = conn_, txn = ended.txn](lua_State* co) {
        lua_rawgeti(co, LUA_REGISTRYINDEX, conn);
        lua_rawgeti(co, LUA_REGISTRYINDEX, txn);
        return 2;
    };
    (void)co_await host_->run(Hook::reset_transaction, ended.queue_id, args);
    luaL_unref(L, LUA_REGISTRYINDEX, ended.txn);
}

asio::awaitable<Result> Session::run(Hook h, int extra_ref) {
    if (ended_.txn != LUA_NOREF) co_await reset_ended();
    if (!watches(h)) co_return cont(h);
    const bool with_txn = txn_ != LUA_NOREF && h != Hook::connect && h != Hook::ehlo && h != Hook::auth &&
                          h != Hook::disconnect;
    const int conn = conn_, txn = txn_;
    // Every callable passed to a co_await is a named local: GCC 12 destroys a temporary
    // made in a co_await's arguments twice.
    const PushArgs args = [conn, txn, with_txn, extra_ref](lua_State* co) {
        lua_rawgeti(co, LUA_REGISTRYINDEX, conn);
        if (!with_txn) return 1;
        lua_rawgeti(co, LUA_REGISTRYINDEX, txn);
        if (extra_ref == LUA_NOREF) return 2;
        lua_rawgeti(co, LUA_REGISTRYINDEX, extra_ref);
        return 3;
    };
    auto* answers = recording(h);
    co_return co_await host_->run(h, queue_id_, args, nullptr, answers);
}

asio::awaitable<Result> Session::connect() { co_return co_await run(Hook::connect, LUA_NOREF); }

asio::awaitable<Result> Session::ehlo(const std::string& verb, const std::string& name) {
    if (!host_) co_return cont(Hook::ehlo);
    lua_State* L = host_->state().get();
    host_->push_helper(L, "hello");
    lua_rawgeti(L, LUA_REGISTRYINDEX, conn_);
    push_string(L, verb);
    push_string(L, name);
    host_->call_helper(L, 3, 0);
    if (ended_.txn != LUA_NOREF) co_await reset_ended();
    if (!watches(Hook::ehlo)) co_return cont(Hook::ehlo);
    const int conn = conn_;
    const PushArgs args = [conn, &name](lua_State* co) {
        lua_rawgeti(co, LUA_REGISTRYINDEX, conn);
        lua_pushlstring(co, name.data(), name.size());
        return 2;
    };
    auto* answers = recording(Hook::ehlo);
    co_return co_await host_->run(Hook::ehlo, queue_id_, args, nullptr, answers);
}

asio::awaitable<Result> Session::auth(const std::string& user, const std::string& mechanism) {
    if (!host_) co_return cont(Hook::auth);
    lua_State* L = host_->state().get();
    host_->push_helper(L, "user");
    lua_rawgeti(L, LUA_REGISTRYINDEX, conn_);
    push_string(L, user);
    host_->call_helper(L, 2, 0);
    if (!watches(Hook::auth)) co_return cont(Hook::auth);
    const int conn = conn_;
    const PushArgs args = [conn, &user, &mechanism](lua_State* co) {
        lua_rawgeti(co, LUA_REGISTRYINDEX, conn);
        lua_pushlstring(co, user.data(), user.size());
        lua_pushlstring(co, mechanism.data(), mechanism.size());
        return 3;
    };
    auto* answers = recording(Hook::auth);
    Result r = co_await host_->run(Hook::auth, queue_id_, args, nullptr, answers);
    if (r.refused()) {  // the AUTH is refused: the session is not authenticated
        host_->push_helper(L, "user");
        lua_rawgeti(L, LUA_REGISTRYINDEX, conn_);
        lua_pushnil(L);
        host_->call_helper(L, 2, 0);
    }
    co_return r;
}

void Session::tls_started(const std::string& version, const std::string& cipher) {
    if (!host_) return;
    lua_State* L = host_->state().get();
    host_->push_helper(L, "tls");
    lua_rawgeti(L, LUA_REGISTRYINDEX, conn_);
    push_string(L, version);
    push_string(L, cipher);
    host_->call_helper(L, 3, 0);
}

asio::awaitable<Result> Session::mail(const std::string& queue_id, std::string& sender, const Params& params) {
    end_transaction();
    queue_id_ = queue_id;
    if (!host_) co_return cont(Hook::mail);
    lua_State* L = host_->state().get();
    host_->push_helper(L, "txn");
    push_string(L, queue_id);
    host_->push_helper(L, "address");
    push_string(L, sender);
    push_params(L, params);
    if (!host_->call_helper(L, 2, 1) || !host_->call_helper(L, 2, 1)) co_return cont(Hook::mail);
    txn_ = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_rawgeti(L, LUA_REGISTRYINDEX, txn_);
    lua_getfield(L, -1, "mail_from");
    const int sender_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1);
    Result r = co_await run(Hook::mail, sender_ref);
    sender = address_field(L, sender_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, sender_ref);
    co_return r;
}

asio::awaitable<Result> Session::rcpt(std::string& address, const Params& params) {
    if (!host_ || txn_ == LUA_NOREF) co_return cont(Hook::rcpt);
    lua_State* L = host_->state().get();
    luaL_unref(L, LUA_REGISTRYINDEX, pending_rcpt_);
    host_->push_helper(L, "address");
    push_string(L, address);
    push_params(L, params);
    if (!host_->call_helper(L, 2, 1)) co_return cont(Hook::rcpt);
    pending_rcpt_ = luaL_ref(L, LUA_REGISTRYINDEX);
    if (!watches(Hook::rcpt)) co_return cont(Hook::rcpt);
    const int conn = conn_, txn = txn_, rcpt = pending_rcpt_;
    std::string before = address;
    const PushArgs args = [conn, txn, rcpt](lua_State* co) {
        lua_rawgeti(co, LUA_REGISTRYINDEX, conn);
        lua_rawgeti(co, LUA_REGISTRYINDEX, txn);
        lua_rawgeti(co, LUA_REGISTRYINDEX, rcpt);
        return 3;
    };
    const std::function<void(const std::string&)> after = [this, L, rcpt, &before](const std::string& plugin) {
        std::string now = address_field(L, rcpt);
        if (now == before) return;
        Result who;
        who.plugin = plugin;
        who.hook = Hook::rcpt;
        note(who, "rewrite", before + " -> " + now);
        before = std::move(now);
    };
    auto* answers = recording(Hook::rcpt);
    Result r = co_await host_->run(Hook::rcpt, queue_id_, args, &after, answers);
    address = address_field(L, pending_rcpt_);
    if (r.answer == Answer::ok) note(r, "ok");
    co_return r;
}

void Session::accept_rcpt() {
    if (!host_ || txn_ == LUA_NOREF || pending_rcpt_ == LUA_NOREF) return;
    lua_State* L = host_->state().get();
    host_->push_helper(L, "accept_rcpt");
    lua_rawgeti(L, LUA_REGISTRYINDEX, txn_);
    lua_rawgeti(L, LUA_REGISTRYINDEX, pending_rcpt_);
    host_->call_helper(L, 2, 0);
    luaL_unref(L, LUA_REGISTRYINDEX, pending_rcpt_);
    pending_rcpt_ = LUA_NOREF;
}

asio::awaitable<Result> Session::data() { co_return co_await run(Hook::data, LUA_NOREF); }

asio::awaitable<Result> Session::data_post(TxnMessage& m) { co_return co_await message_hook(Hook::data_post, m); }

asio::awaitable<Result> Session::queue(TxnMessage& m) { co_return co_await message_hook(Hook::queue, m); }

asio::awaitable<Result> Session::message_hook(Hook h, TxnMessage& m) {
    if (!watches(h) || txn_ == LUA_NOREF) co_return cont(h);
    lua_State* L = host_->state().get();
    const auto [header_end, body_start] = header_split(m.bytes);
    host_->push_helper(L, "message");
    lua_rawgeti(L, LUA_REGISTRYINDEX, txn_);
    push_header_fields(L, std::string_view(m.bytes).substr(0, header_end));
    lua_pushlstring(L, m.bytes.data() + body_start, m.bytes.size() - body_start);
    lua_pushinteger(L, static_cast<lua_Integer>(m.bytes.size()));
    if (!host_->call_helper(L, 4, 0)) co_return cont(h);
    auto summary = [this, L](const char* helper) {
        host_->push_helper(L, helper);
        lua_rawgeti(L, LUA_REGISTRYINDEX, txn_);
        std::string s = host_->call_helper(L, 1, 1) ? string_at(L, -1) : std::string();
        lua_pop(L, 1);
        return s;
    };
    std::string before = summary("signature"), hold_before = summary("held");
    const PushArgs args = [conn = conn_, txn = txn_](lua_State* co) {
        lua_rawgeti(co, LUA_REGISTRYINDEX, conn);
        lua_rawgeti(co, LUA_REGISTRYINDEX, txn);
        return 2;
    };
    const std::function<void(const std::string&)> after = [&](const std::string& plugin) {
        Result who;
        who.plugin = plugin;
        who.hook = h;
        std::string now = summary("signature"), hold_now = summary("held");
        if (now != before) note(who, "rewrite", "the message was changed");
        if (hold_now != hold_before) note(who, "hold", hold_now);
        before = std::move(now);
        hold_before = std::move(hold_now);
    };
    auto* answers = recording(h);
    Result r = co_await host_->run(h, queue_id_, args, &after, answers);
    if (r.answer == Answer::ok) note(r, "ok");
    // What the hooks left, into m.
    host_->push_helper(L, "export");
    lua_rawgeti(L, LUA_REGISTRYINDEX, txn_);
    if (!host_->call_helper(L, 1, 5)) co_return r;
    const int top = lua_gettop(L);
    std::string sender = string_at(L, top - 4);
    std::vector<std::string> rcpts;
    for (lua_Integer i = 1, n = static_cast<lua_Integer>(lua_rawlen(L, top - 3)); i <= n; ++i) {
        lua_rawgeti(L, top - 3, i);
        rcpts.push_back(string_at(L, -1));
        lua_pop(L, 1);
    }
    if (sender != m.mail || rcpts != m.rcpts) {
        m.mail = std::move(sender);
        m.rcpts = std::move(rcpts);
        m.changed = true;
    }
    const bool new_header = lua_isstring(L, top - 2), new_body = lua_isstring(L, top - 1);
    if (new_header || new_body) {
        std::string bytes = new_header ? string_at(L, top - 2) : m.bytes.substr(0, header_end);
        bytes += "\r\n";
        if (new_body) bytes += string_at(L, top - 1);
        else bytes.append(m.bytes, body_start, std::string::npos);
        m.bytes = std::move(bytes);
        m.changed = true;
    }
    if (lua_isstring(L, top) && m.hold.empty()) m.hold = string_at(L, top);
    lua_settop(L, top - 5);
    co_return r;
}

asio::awaitable<void> Session::disconnect(const std::string& outcome) {
    end_transaction(outcome);
    co_await reset_ended();
    if (watches(Hook::disconnect)) (void)co_await run(Hook::disconnect, LUA_NOREF);
}

void Session::only_rcpt(const std::string& address) {
    if (!host_ || txn_ == LUA_NOREF) return;
    lua_State* L = host_->state().get();
    host_->push_helper(L, "only_rcpt");
    lua_rawgeti(L, LUA_REGISTRYINDEX, txn_);
    push_string(L, address);
    host_->call_helper(L, 2, 0);
}

void Session::end_transaction(const std::string& outcome) {
    if (!host_) return;
    lua_State* L = host_->state().get();
    if (txn_ != LUA_NOREF && watches(Hook::reset_transaction) && ended_.txn == LUA_NOREF) {
        ended_ = Ended{txn_, queue_id_, outcome, std::move(txn_answers_)};
        txn_ = LUA_NOREF;
    }
    txn_answers_.clear();
    luaL_unref(L, LUA_REGISTRYINDEX, txn_);
    luaL_unref(L, LUA_REGISTRYINDEX, pending_rcpt_);
    txn_ = pending_rcpt_ = LUA_NOREF;
    events_.clear();
    queue_id_.clear();
}

}  // namespace haineko::plugin
