#include "plugin/call.hpp"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "core/text.hpp"

namespace haineko::plugin {

namespace {

namespace asio = boost::asio;

constexpr int kCountEvery = 1000;  // instructions between two checks of the limits

void count_hook(lua_State* L, lua_Debug*) {
    CallState* c = LuaState::call_of(L);
    if (!c) return;
    c->used += kCountEvery;
    if (c->failure.empty() && c->used > c->budget)
        c->failure = "it ran past max_instructions (" + std::to_string(c->budget) + ")";
    if (c->failure.empty() && std::chrono::steady_clock::now() > c->deadline) c->failure = "it ran past its timeout";
    // Raised again at every instruction from now on, so that a pcall in the plugin cannot
    // swallow it: the code around the pcall fails too.
    if (!c->failure.empty()) {
        lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
        luaL_error(L, "%s", c->failure.c_str());
    }
}

// The thread a call runs on, kept from the collector while the call lives.
struct Thread {
    lua_State* main;
    lua_State* co;
    int ref;
    explicit Thread(lua_State* L) : main(L), co(lua_newthread(L)), ref(luaL_ref(L, LUA_REGISTRYINDEX)) {}
    ~Thread() {
        LuaState::set_call(co, nullptr);
        luaL_unref(main, LUA_REGISTRYINDEX, ref);
    }
};

int resumed(lua_State* L, int, lua_KContext) {
    CallState* c = LuaState::call_of(L);
    if (!c->failure.empty()) return luaL_error(L, "%s", c->failure.c_str());
    return c->results ? c->results(L) : 0;
}

bool dsn_fits(const std::string& dsn, int code) {
    // class.subject.detail (RFC 3463), in the reply's class.
    if (dsn.size() < 5 || dsn.size() > 11 || dsn[1] != '.') return false;
    if (code && dsn[0] - '0' != code / 100) return false;
    if (dsn[0] != '2' && dsn[0] != '4' && dsn[0] != '5') return false;
    int dots = 0;
    for (std::size_t i = 1; i < dsn.size(); ++i) {
        if (dsn[i] == '.') ++dots;
        else if (!std::isdigit(static_cast<unsigned char>(dsn[i]))) return false;
    }
    return dots == 2 && dsn.back() != '.' && dsn.find("..") == std::string::npos;
}

Answer answer_of(lua_Integer v, bool& known) {
    known = true;
    switch (v) {
    case kCont: return Answer::cont;
    case kOk: return Answer::ok;
    case kDeny: return Answer::deny;
    case kDenySoft: return Answer::denysoft;
    case kDenyDisconnect: return Answer::deny_disconnect;
    case kDenySoftDisconnect: return Answer::denysoft_disconnect;
    default: known = false; return Answer::cont;
    }
}

// The values a hook returned: an answer, then optionally a text, a code and a dsn.
Result read_answer(lua_State* co, int returned, CallState& c) {
    Result r;
    r.hook = c.hook;
    r.plugin = c.plugin;
    const int base = lua_gettop(co) - returned;
    if (returned == 0 || lua_isnil(co, base + 1)) return r;
    bool known = false;
    if (lua_isinteger(co, base + 1)) r.answer = answer_of(lua_tointeger(co, base + 1), known);
    if (!known) {
        r.failure = std::string("it returned ") + luaL_typename(co, base + 1) + ", which is not an answer";
        return r;
    }
    if (returned >= 2 && lua_type(co, base + 2) == LUA_TSTRING)
        r.text = one_line(std::string(string_at(co, base + 2)).substr(0, 400));
    if (returned >= 3 && lua_isinteger(co, base + 3)) {
        const lua_Integer code = lua_tointeger(co, base + 3);
        // Only a refusal's class: a DENY cannot be made into a 250.
        if ((r.temporary() && code >= 400 && code < 500) || (r.refused() && !r.temporary() && code >= 500 && code < 600))
            r.code = static_cast<int>(code);
    }
    if (returned >= 4 && lua_type(co, base + 4) == LUA_TSTRING) {
        std::string dsn = string_at(co, base + 4);
        if (dsn_fits(dsn, r.smtp_code())) r.dsn = std::move(dsn);
    }
    return r;
}

Result failed(lua_State* main, lua_State* co, int status, CallState& c) {
    Result r;
    r.hook = c.hook;
    r.plugin = c.plugin;
    std::string message = lua_type(co, -1) == LUA_TSTRING ? string_at(co, -1) : std::string("an error that is not a string");
    if (status == LUA_ERRMEM) message = "its Lua state passed memory_mb";
    luaL_traceback(main, co, message.c_str(), 0);
    r.failure = string_at(main, -1);
    lua_pop(main, 1);
    return r;
}

int start(lua_State* co, int fn_ref, const PushArgs& args) {
    lua_rawgeti(co, LUA_REGISTRYINDEX, fn_ref);
    return args ? args(co) : 0;
}

}  // namespace

int wait_then(lua_State* L, std::function<asio::awaitable<void>(CallState&)> wait) {
    CallState* c = LuaState::call_of(L);
    if (!c || c->loading) return luaL_error(L, "this call waits, and cannot be made while the plugin loads");
    if (!c->failure.empty()) return luaL_error(L, "%s", c->failure.c_str());
    c->wait = std::move(wait);
    c->results = nullptr;
    return lua_yieldk(L, 0, 0, &resumed);
}

Result read_value(lua_State* co, int returned, CallState& c, const ValueReader& values) {
    Result r;
    r.hook = c.hook;
    r.plugin = c.plugin;
    if (returned == 0) lua_pushnil(co);
    const int index = returned == 0 ? lua_gettop(co) : lua_gettop(co) - returned + 1;
    if (values(co, index, c.plugin)) r.answer = Answer::ok;
    return r;
}

asio::awaitable<Result> call_hook(LuaState& state, int fn_ref, CallState& call, const PushArgs& args,
                                  const ValueReader* values) {
    using namespace asio::experimental::awaitable_operators;
    lua_State* L = state.get();
    Thread thread(L);
    lua_State* co = thread.co;
    LuaState::set_call(co, &call);
    lua_sethook(co, count_hook, LUA_MASKCOUNT, kCountEvery);
    int nargs = start(co, fn_ref, args);
    for (;;) {
        int returned = 0;
        int status;
        {
            LuaState::Strict strict(state);
            status = lua_resume(co, L, nargs, &returned);
        }
        if (status == LUA_OK) co_return values ? read_value(co, returned, call, *values) : read_answer(co, returned, call);
        if (status != LUA_YIELD) co_return failed(L, co, status, call);
        lua_pop(co, returned);
        nargs = 0;
        auto wait = std::move(call.wait);
        call.wait = nullptr;
        if (!wait) continue;  // nothing to wait for: resume at once
        asio::steady_timer deadline(co_await asio::this_coro::executor, call.deadline);
        auto first = co_await (wait(call) || deadline.async_wait(asio::use_awaitable));
        if (first.index() == 1 && call.failure.empty()) call.failure = "it ran past its timeout";
    }
}

Result call_now(LuaState& state, int fn_ref, CallState& call, const PushArgs& args, int* returned) {
    lua_State* L = state.get();
    call.loading = true;
    Thread thread(L);
    lua_State* co = thread.co;
    LuaState::set_call(co, &call);
    lua_sethook(co, count_hook, LUA_MASKCOUNT, kCountEvery);
    const int nargs = start(co, fn_ref, args);
    int n = 0;
    int status;
    {
        LuaState::Strict strict(state);
        status = lua_resume(co, L, nargs, &n);
    }
    if (status == LUA_YIELD) {  // a yield that is not one of ours
        lua_pop(co, n);
        Result r;
        r.failure = "it yielded while loading";
        return r;
    }
    if (status != LUA_OK) return failed(L, co, status, call);
    Result r = read_answer(co, n, call);
    r.failure.clear();  // a chunk returns its table, not an answer
    lua_xmove(co, L, n);
    *returned = n;
    return r;
}

}  // namespace haineko::plugin
