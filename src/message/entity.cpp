#include "message/entity.hpp"

#include "core/text.hpp"

namespace haineko {

std::string Entity::field(std::string_view name) const {
    for (const auto& [n, v] : fields)
        if (n == name) return v;
    return {};
}

bool Entity::has(std::string_view name) const {
    for (const auto& f : fields)
        if (f.first == name) return true;
    return false;
}

Entity split_entity(std::string_view bytes) {
    Entity e;
    std::size_t pos = 0;
    while (pos < bytes.size()) {
        std::size_t eol = bytes.find('\n', pos);
        std::string_view line = bytes.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
        const std::size_t next = eol == std::string_view::npos ? bytes.size() : eol + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) {
            e.header_end = pos;
            e.body = bytes.substr(next);
            return e;
        }
        if ((line.front() == ' ' || line.front() == '\t') && !e.fields.empty()) {
            e.fields.back().second += " " + std::string(trim(line));
        } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
            e.fields.emplace_back(to_lower(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
        }
        pos = next;
    }
    e.header_end = bytes.size();
    return e;  // no body at all
}

}  // namespace haineko
