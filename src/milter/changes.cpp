#include "milter/changes.hpp"

#include <algorithm>

#include "core/text.hpp"
#include "message/encoding.hpp"

namespace haineko::milter {

namespace {

// RFC 5322 2.2: printable ASCII but ":".
bool is_field_name(std::string_view name) {
    if (name.empty() || name.size() > 76) return false;
    for (char c : name)
        if (c < 33 || c > 126 || c == ':') return false;
    return true;
}

// A filter's value: LF alone (libmilter's folding) becomes CRLF; a bare CR goes.
std::string crlf_value(std::string_view value) {
    std::string out;
    for (std::size_t i = 0; i < value.size(); ++i) {
        if (value[i] == '\r') continue;
        if (value[i] == '\n') {
            out += "\r\n";
            // A line break must be followed by white space, or the next line would start a field.
            if (i + 1 >= value.size() || (value[i + 1] != ' ' && value[i + 1] != '\t')) out += ' ';
            continue;
        }
        out += value[i];
    }
    return out;
}

std::string without_angles(std::string_view a) {
    if (a.size() >= 2 && a.front() == '<' && a.back() == '>') return std::string(a.substr(1, a.size() - 2));
    return std::string(a);
}

bool same_address(const std::string& a, const std::string& b) { return to_lower(a) == to_lower(b); }

}  // namespace

Editable editable(std::string_view message, std::string sender, std::vector<std::string> rcpts) {
    Editable e;
    e.sender = std::move(sender);
    e.rcpts = std::move(rcpts);
    std::size_t pos = 0;
    while (pos < message.size()) {
        std::size_t eol = message.find("\r\n", pos);
        const std::size_t end = eol == std::string_view::npos ? message.size() : eol;
        const std::string_view line = message.substr(pos, end - pos);
        const std::size_t next = eol == std::string_view::npos ? message.size() : eol + 2;
        if (line.empty()) {
            e.body = std::string(message.substr(next));
            return e;
        }
        if ((line.front() == ' ' || line.front() == '\t') && !e.headers.empty()) {
            e.headers.back().value += "\r\n";
            e.headers.back().value += line;
        } else {
            const auto colon = line.find(':');
            if (colon == std::string_view::npos) {  // not a field: the body starts here
                e.body = std::string(message.substr(pos));
                return e;
            }
            std::string_view value = line.substr(colon + 1);
            if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
            e.headers.push_back({std::string(line.substr(0, colon)), std::string(value)});
        }
        pos = next;
    }
    return e;
}

std::string message_of(const Editable& e) {
    std::string out;
    for (const auto& h : e.headers) {
        out += h.name;
        out += ':';
        if (!h.value.empty() && h.value.front() != ' ' && h.value.front() != '\t' && h.value.front() != '\r') out += ' ';
        out += h.value;
        out += "\r\n";
    }
    out += "\r\n";
    // A filter's new body may end its lines with LF alone, and its pieces may split a CRLF.
    out += e.body_replaced ? normalize_crlf(e.body) : e.body;
    return out;
}

void next_filter(Editable& e) {
    if (!e.body_replaced) return;
    e.body = normalize_crlf(e.body);
    e.body_replaced = false;
}

static bool apply_one(const Reply& change, Editable& e);

bool apply(const Reply& change, Editable& e) {
    const bool done = apply_one(change, e);
    e.changed = e.changed || done;
    return done;
}

static bool apply_one(const Reply& change, Editable& e) {
    switch (change.kind) {
    case 'h':
        if (!is_field_name(change.name)) return false;
        e.headers.push_back({change.name, crlf_value(change.text)});
        return true;
    case 'i': {
        if (!is_field_name(change.name)) return false;
        const std::size_t at = std::min<std::size_t>(change.index, e.headers.size());
        e.headers.insert(e.headers.begin() + static_cast<std::ptrdiff_t>(at), {change.name, crlf_value(change.text)});
        return true;
    }
    case 'm': {
        if (!is_field_name(change.name)) return false;
        const std::string name = to_lower(change.name);
        std::uint32_t seen = 0;
        for (auto it = e.headers.begin(); it != e.headers.end(); ++it) {
            if (to_lower(it->name) != name || ++seen != std::max<std::uint32_t>(change.index, 1)) continue;
            if (change.text.empty())
                e.headers.erase(it);
            else
                it->value = crlf_value(change.text);
            return true;
        }
        // No such field: a change adds it, as libmilter's MTAs do; a deletion does nothing.
        if (!change.text.empty()) e.headers.push_back({change.name, crlf_value(change.text)});
        return true;
    }
    case 'b':
        if (!e.body_replaced) e.body.clear();
        e.body_replaced = true;
        e.body += change.bytes;
        return true;
    case '+':
    case '2': {
        std::string rcpt = without_angles(change.text);
        if (std::none_of(e.rcpts.begin(), e.rcpts.end(), [&](const std::string& r) { return same_address(r, rcpt); }))
            e.rcpts.push_back(std::move(rcpt));
        return true;
    }
    case '-': {
        const std::string rcpt = without_angles(change.text);
        std::erase_if(e.rcpts, [&](const std::string& r) { return same_address(r, rcpt); });
        return true;
    }
    case 'e':
        e.sender = without_angles(change.text);
        return true;
    default:
        return false;
    }
}

}  // namespace haineko::milter
