// One hook call as a Lua coroutine (the OpenResty cosocket model): the call runs until it
// answers, fails, or waits; a wait (haineko.sleep, .dns, .http, .kv) suspends only this
// call, and the event loop serves other sessions until the answer comes. Each call is
// bounded in instructions (a count hook) and in time (the deadline, its waits included).
#pragma once
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <string>

#include "plugin/answer.hpp"
#include "plugin/lua_state.hpp"

namespace haineko::plugin {

struct CallState {
    std::string plugin;    // whose hook runs (for haineko.log)
    std::string output;    // the plugin's output file (haineko.output), "" for none
    std::string queue_id;  // the transaction's queue id, "" before MAIL
    Hook hook = Hook::connect;
    bool loading = false;  // the plugin's chunk or register(): waits are refused
    long long budget = 0;  // instructions
    long long used = 0;
    std::chrono::steady_clock::time_point deadline;
    std::string failure;  // set once a limit is passed: every later step fails too
    // Set by a call that waits, before it yields: the wait itself, and what the call
    // returns to Lua once it is over (pushed in Lua's protected context).
    std::function<boost::asio::awaitable<void>(CallState&)> wait;
    std::function<int(lua_State*)> results;
    void* host = nullptr;  // the Host that runs the call (for the API)
};

// Pushes a call's arguments onto the thread; returns how many.
using PushArgs = std::function<int(lua_State*)>;

// A hook that returns a value rather than an answer (get_route): called with the thread
// and the index of the first value returned (nil when none) and the plugin's name; true
// when the value decides (the later plugins are not asked).
using ValueReader = std::function<bool(lua_State*, int, const std::string&)>;

// Runs the function in registry slot fn_ref with the arguments: the answer it returned,
// or (failure set) why it failed. Never throws for anything the plugin did. With values,
// what it returned goes there instead (answer ok when it decided, else cont).
boost::asio::awaitable<Result> call_hook(LuaState& state, int fn_ref, CallState& call, const PushArgs& args,
                                         const ValueReader* values = nullptr);

// The same without an event loop, for a plugin's chunk and register(): a wait is an error.
// Returns the values the function returned on the stack of L (count in *returned).
Result call_now(LuaState& state, int fn_ref, CallState& call, const PushArgs& args, int* returned);

// For the API: suspends the running call until wait is over; Lua then sees what
// call.results pushes. Used as `return wait_then(L, ...)` from a lua_CFunction.
int wait_then(lua_State* L, std::function<boost::asio::awaitable<void>(CallState&)> wait);

// The answer constants (Haraka's numbers), as set in the haineko table.
constexpr lua_Integer kCont = 900, kDeny = 902, kDenySoft = 903, kDenyDisconnect = 904, kOk = 906,
                      kDenySoftDisconnect = 908;

}  // namespace haineko::plugin
