#include "message/header.hpp"

#include <algorithm>
#include <cstring>

#include "core/address.hpp"
#include "core/text.hpp"
#include "message/charset.hpp"
#include "core/base64.hpp"

namespace haineko {
namespace {

constexpr std::size_t kLineLimit = 78;
constexpr std::size_t kWordLimit = 75;
constexpr std::size_t kLongestToken = 900;  // under 998 with the name in front

// Words split at single spaces; a run of spaces stays in front of the word that follows
// it, so that no continuation line is made of white space alone.
std::vector<std::string> split_tokens(std::string_view value) {
    std::vector<std::string> tokens;
    std::string pending;
    size_t pos = 0;
    while (pos <= value.size()) {
        size_t space = value.find(' ', pos);
        std::string_view tok = value.substr(pos, space == std::string_view::npos ? std::string_view::npos : space - pos);
        if (tok.empty() && space != std::string_view::npos && (!tokens.empty() || !pending.empty())) {
            pending += ' ';
        } else if (!tok.empty() || space == std::string_view::npos) {
            // A run too long to fit on a line is shortened: folding cannot split it.
            if (pending.size() + tok.size() > kLineLimit - 2)
                pending.resize(tok.size() >= kLineLimit - 2 ? 0 : kLineLimit - 2 - tok.size());
            std::string word = pending + std::string(tok);
            pending.clear();
            // A word too long for one line is cut; there is no white space to fold at.
            while (word.size() > kLongestToken) {
                tokens.push_back(word.substr(0, kLongestToken));
                word.erase(0, kLongestToken);
            }
            if (!word.empty() || tokens.empty()) tokens.push_back(std::move(word));
        }
        if (space == std::string_view::npos) break;
        pos = space + 1;
    }
    return tokens;
}

// Joins "Name:" and the pieces, starting a continuation line (CRLF SP) whenever the
// next piece would pass 78 characters.
std::string fold(std::string_view name, const std::vector<std::string>& pieces) {
    std::string out(name);
    out += ':';
    std::size_t line_len = out.size();
    for (const auto& whole : pieces) {
        // Every piece fits a line of 998 octets, whichever path made it: the last guard
        // of RFC 5322 2.1.1 for every header we write.
        std::string_view piece = whole;
        while (piece.size() > kLongestToken) {
            out += "\r\n ";
            out.append(piece.substr(0, kLongestToken));
            piece.remove_prefix(kLongestToken);
            line_len = 1 + kLongestToken;
        }
        if (line_len + 1 + piece.size() > kLineLimit && line_len > name.size() + 1) {
            out += "\r\n";
            line_len = 0;
        }
        out += ' ';
        out += piece;
        line_len += 1 + piece.size();
    }
    out += "\r\n";
    return out;
}

std::vector<std::string> words_or_utf8(std::string_view text, std::string_view charset, std::size_t first_budget) {
    if (auto words = encoded_words(text, charset, first_budget)) return *words;
    return *encoded_words(text, "UTF-8", first_budget);
}

bool needs_quoting(std::string_view phrase) {
    if (phrase.size() >= 2 && phrase.front() == '"' && phrase.back() == '"') return false;
    for (char c : phrase)
        if (std::strchr("()<>@,;:\\\".[]", c)) return true;
    return false;
}

std::string quoted(std::string_view phrase) {
    std::string out = "\"";
    for (char c : phrase) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

}  // namespace

std::optional<std::vector<std::string>> encoded_words(std::string_view text, std::string_view charset,
                                                      std::size_t first_budget) {
    const std::string prefix = "=?" + std::string(charset) + "?B?";
    const std::size_t overhead = prefix.size() + 2;
    std::vector<std::string> words;
    auto emit = [&](std::string_view converted) { words.push_back(prefix + base64_encode(converted) + "?="); };
    std::size_t start = 0, i = 0;
    std::string converted;
    while (i < text.size()) {
        std::size_t len = std::min(utf8_sequence_length(static_cast<unsigned char>(text[i])), text.size() - i);
        auto candidate = convert_from_utf8(text.substr(start, i + len - start), charset);
        if (!candidate) return std::nullopt;
        std::size_t budget = words.empty() ? first_budget : kWordLimit;
        if (overhead + 4 * ((candidate->size() + 2) / 3) > budget && i > start) {
            emit(converted);
            start = i;
            converted.clear();
            continue;
        }
        converted = std::move(*candidate);
        i += len;
    }
    if (i > start || words.empty()) emit(converted);
    return words;
}

static bool has_unfoldable_word(std::string_view value) {
    std::size_t run = 0;
    for (char c : value) {
        run = (c == ' ' || c == '\t') ? 0 : run + 1;
        if (run > kLongestToken) return true;
    }
    return false;
}

// A value that folding would leave as it is: printable ASCII, no spaces at its ends or
// in runs, and short enough for one line. Most header values are like this.
static bool fits_one_line(std::string_view name, std::string_view value) {
    if (name.size() + 2 + value.size() > kLineLimit || value.empty()) return false;
    if (value.front() == ' ' || value.back() == ' ') return false;
    char prev = 0;
    for (char c : value) {
        if (c < 0x20 || c > 0x7e || (c == ' ' && prev == ' ')) return false;
        prev = c;
    }
    return true;
}

std::string header_field(std::string_view name, std::string_view raw_value, std::string_view charset) {
    if (fits_one_line(name, raw_value)) {
        std::string out;
        out.reserve(name.size() + raw_value.size() + 4);
        out.append(name).append(": ").append(raw_value).append("\r\n");
        return out;
    }
    // White space at the ends says nothing, and folded it would make a continuation line
    // of white space alone (obsolete syntax, which some readers take for the blank line
    // that ends the header).
    std::string value(trim(one_line(raw_value)));
    std::replace(value.begin(), value.end(), '\t', ' ');  // folding splits at spaces: a tab alone would be a word
    // Non-ASCII, or a word too long for a line: encoded words may be split anywhere
    // without changing what the reader sees.
    if (has_non_ascii(value) || has_unfoldable_word(value)) {
        std::size_t first_budget = kLineLimit > name.size() + 2 ? kLineLimit - name.size() - 2 : kWordLimit;
        return fold(name, words_or_utf8(value, charset, std::min(first_budget, kWordLimit)));
    }
    return fold(name, split_tokens(value));
}

std::string address_field(std::string_view name, std::string_view raw_value, std::string_view charset) {
    std::string value = one_line(raw_value);
    size_t lt = value.rfind('<');
    size_t gt = lt == std::string::npos ? std::string::npos : value.find('>', lt);
    if (gt == std::string::npos) return header_field(name, value, charset);
    std::string_view display = trim(std::string_view(value).substr(0, lt));
    std::string angle_addr = value.substr(lt, gt - lt + 1);
    if (display.empty()) return header_field(name, angle_addr, charset);
    // An ASCII name that folds goes as it is. One with a word too long for a line is
    // encoded like a non-ASCII one, so that the address after it stays in clear.
    if (!has_non_ascii(display) && !has_unfoldable_word(display)) {
        std::string phrase = needs_quoting(display) ? quoted(display) : std::string(display);
        return header_field(name, phrase + " " + angle_addr, charset);
    }
    if (display.size() >= 2 && display.front() == '"' && display.back() == '"')
        display = display.substr(1, display.size() - 2);
    std::size_t first_budget = std::min(kWordLimit, kLineLimit - name.size() - 2);
    auto pieces = words_or_utf8(display, charset, first_budget);
    pieces.push_back(angle_addr);
    return fold(name, pieces);
}

}  // namespace haineko
