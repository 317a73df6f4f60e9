#include "plugin/header_fields.hpp"

namespace haineko::plugin {

// The header's fields as the prelude takes them: {name, value after the colon, raw}.
void push_header_fields(lua_State* L, std::string_view header) {
    lua_newtable(L);
    lua_Integer n = 0;
    std::size_t pos = 0;
    while (pos < header.size()) {
        std::size_t end = pos;
        do {  // a field runs on over folded lines (CRLF then a space or tab)
            const std::size_t eol = header.find('\n', end);
            end = eol == std::string_view::npos ? header.size() : eol + 1;
        } while (end < header.size() && (header[end] == ' ' || header[end] == '\t'));
        const std::string_view raw = header.substr(pos, end - pos);
        std::string_view line = raw;
        while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
        const std::size_t colon = line.find(':');
        lua_createtable(L, 3, 0);
        lua_pushlstring(L, line.data(), colon == std::string_view::npos ? line.size() : colon);
        lua_rawseti(L, -2, 1);
        if (colon == std::string_view::npos) lua_pushliteral(L, "");
        else lua_pushlstring(L, line.data() + colon + 1, line.size() - colon - 1);
        lua_rawseti(L, -2, 2);
        lua_pushlstring(L, raw.data(), raw.size());
        lua_rawseti(L, -2, 3);
        lua_rawseti(L, -2, ++n);
        pos = end;
    }
}

// Where the header ends (after its last line end) and the body begins.
std::pair<std::size_t, std::size_t> header_split(const std::string& bytes) {
    if (bytes.starts_with("\r\n")) return {0, 2};
    const std::size_t blank = bytes.find("\r\n\r\n");
    if (blank == std::string::npos) return {bytes.size(), bytes.size()};
    return {blank + 2, blank + 4};
}

std::string_view header_of(const std::string& bytes) {
    return std::string_view(bytes).substr(0, header_split(bytes).first);
}

}  // namespace haineko::plugin
