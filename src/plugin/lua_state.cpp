#include "plugin/lua_state.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <cstring>
#include <new>

namespace haineko::plugin {

namespace {

// Lua calls this for an error outside any protected call: only a real out-of-memory of
// the host's own pushes can get here, and there is no way back from it.
int panic(lua_State* L) {
    spdlog::critical("Lua: unprotected error: {}", string_at(L, -1));
    std::abort();
}

}  // namespace

void* LuaState::allocate(void* ud, void* ptr, std::size_t old_size, std::size_t new_size) {
    auto* m = static_cast<Memory*>(ud);
    const std::size_t old = ptr ? old_size : 0;  // without ptr, old_size names a type
    if (new_size == 0) {
        std::free(ptr);
        m->used -= old;
        return nullptr;
    }
    if (m->strict && new_size > old && m->used + (new_size - old) > m->cap) return nullptr;
    void* p = std::realloc(ptr, new_size);
    if (!p) return nullptr;
    m->used = m->used - old + new_size;
    return p;
}

LuaState::LuaState(std::size_t cap_bytes) {
    memory_.cap = cap_bytes;
    L_ = lua_newstate(&LuaState::allocate, &memory_);
    if (!L_) throw std::bad_alloc();
    lua_atpanic(L_, panic);
    // Most of what hooks make (conn and txn tables, strings) dies with its session: the
    // generational collector frees it young, without sweeping the plugins' own tables.
    lua_gc(L_, LUA_GCGEN, 0, 0);
    set_call(L_, nullptr);
}

LuaState::~LuaState() {
    if (L_) lua_close(L_);
}

CallState* LuaState::call_of(lua_State* thread) {
    CallState* c = nullptr;
    std::memcpy(&c, lua_getextraspace(thread), sizeof c);
    return c;
}

void LuaState::set_call(lua_State* thread, CallState* call) {
    std::memcpy(lua_getextraspace(thread), &call, sizeof call);
}

std::string string_at(lua_State* L, int index) {
    std::size_t n = 0;
    const char* s = lua_type(L, index) == LUA_TSTRING ? lua_tolstring(L, index, &n) : nullptr;
    return s ? std::string(s, n) : std::string();
}

}  // namespace haineko::plugin
