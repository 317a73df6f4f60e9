// One Lua 5.4 state with a memory cap. The cap binds only while plugin code runs
// (strict): the host's own few pushes between calls may pass it, so that they never
// fail half-way outside a protected call (where Lua would abort the process).
#pragma once
#include <lua.hpp>

#include <cstddef>
#include <string>

namespace haineko::plugin {

struct CallState;  // plugin/call.hpp

class LuaState {
public:
    explicit LuaState(std::size_t cap_bytes);
    ~LuaState();
    LuaState(const LuaState&) = delete;
    LuaState& operator=(const LuaState&) = delete;

    lua_State* get() const { return L_; }
    std::size_t used() const { return memory_.used; }

    // While a guard lives, allocations past the cap fail (and plugin code sees a memory error).
    class Strict {
    public:
        explicit Strict(LuaState& s) : s_(s), before_(s.memory_.strict) { s_.memory_.strict = true; }
        ~Strict() { s_.memory_.strict = before_; }

    private:
        LuaState& s_;
        bool before_;
    };

    // The call a Lua thread serves (kept in the thread's extra space).
    static CallState* call_of(lua_State* thread);
    static void set_call(lua_State* thread, CallState* call);

private:
    struct Memory {
        std::size_t used = 0;
        std::size_t cap = 0;
        bool strict = false;
    };
    static void* allocate(void* ud, void* ptr, std::size_t old_size, std::size_t new_size);

    Memory memory_;
    lua_State* L_ = nullptr;
};

// The string at index, or "" (never raises).
std::string string_at(lua_State* L, int index);

}  // namespace haineko::plugin
