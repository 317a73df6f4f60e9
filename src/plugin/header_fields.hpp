// A message's header as the plugins' header object takes it (plugin/prelude.lua): each
// field as {name, value after the colon, the field as it came}.
#pragma once
#include <lua.hpp>

#include <string>
#include <string_view>
#include <utility>

namespace haineko::plugin {

// Pushes the array of fields of header (the text up to the blank line).
void push_header_fields(lua_State* L, std::string_view header);

// Where the header ends (after its last line end) and the body begins.
std::pair<std::size_t, std::size_t> header_split(const std::string& bytes);

// The header part of a message.
std::string_view header_of(const std::string& bytes);

}  // namespace haineko::plugin
