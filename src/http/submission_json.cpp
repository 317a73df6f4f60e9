#include "http/submission_json.hpp"

#include <charconv>
#include <cstring>
#include <optional>

#include "core/address.hpp"
#include "core/text.hpp"
#include "http/relaxed_json.hpp"
#include "policy/stages.hpp"

namespace haineko {
namespace {

struct WrongType {};

// A number as Perl would print it: integers as they are, others in their shortest
// decimal form ("1.25", not "1.25E0").
std::string number_text(const boost::json::value& v) {
    if (v.is_int64()) return std::to_string(v.get_int64());
    if (v.is_uint64()) return std::to_string(v.get_uint64());
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.get_double());
    return ec == std::errc{} ? std::string(buf, end) : boost::json::serialize(v);
}

// A content field (subject, from, body...) as text; null is "". Arrays and objects are
// not text: the request is malformed (the original wrote "ARRAY(0x...)" into the mail).
std::string text_of(const boost::json::value* v) {
    if (!v || v->is_null()) return {};
    if (v->is_string()) return std::string(v->get_string());
    if (v->is_number()) return number_text(*v);
    if (v->is_bool()) return v->get_bool() ? "1" : "";
    throw WrongType{};
}

// A field a check reads (ehlo, mail, an element of rcpt): any JSON becomes text, so that
// a wrong type fails that check, as it did in the original. Arrays and objects keep
// their JSON form, which no check accepts.
std::string checked_text(const boost::json::value* v) {
    if (v && (v->is_array() || v->is_object())) return boost::json::serialize(*v);
    return text_of(v);
}

// mail and rcpt as the original took them: "Name <addr>" or " addr " mean addr. Text
// with control characters is taken as it is (and refused): a name holding a line break
// is not a name.
std::string envelope_address(const boost::json::value* v) {
    if (v && v->is_string()) {
        std::string_view text = v->get_string();
        for (unsigned char c : text)
            if (c < 0x20 || c == 0x7f) return std::string(text);
        return address_in(text);
    }
    return checked_text(v);
}

const boost::json::value* first_of(const boost::json::object& o, std::initializer_list<const char*> keys) {
    for (const char* k : keys)
        if (auto it = o.find(k); it != o.end() && !it->value().is_null()) return &it->value();
    return nullptr;
}

std::vector<std::string> list_of(const boost::json::value* v) {
    std::vector<std::string> out;
    if (!v || v->is_null()) return out;
    if (v->is_array()) {
        for (const auto& item : v->get_array()) out.push_back(text_of(&item));
        return out;
    }
    std::string one = text_of(v);
    if (!one.empty()) out.push_back(one);
    return out;
}

// The recipients: an array, or one value taken as a list of one (as the original did).
std::vector<std::string> recipients_of(const boost::json::value* v) {
    std::vector<std::string> out;
    if (!v || v->is_null()) return out;
    if (v->is_array()) {
        for (const auto& item : v->get_array()) out.push_back(envelope_address(&item));
        return out;
    }
    std::string one = envelope_address(v);
    if (!one.empty()) out.push_back(one);
    return out;
}

// header that is not an object is no header at all: the checks that read it (the
// subject) then fail as they would for a missing one.
// header's value for a field, its key matched without regard to case (the first key
// that matches any of names, in the request's order); null values count as absent.
const boost::json::value* header_value(const boost::json::object& header, std::initializer_list<const char*> names) {
    for (const auto& kv : header) {
        if (kv.value().is_null()) continue;
        for (const char* name : names)
            if (kv.key().size() == std::strlen(name) && to_lower(kv.key()) == name) return &kv.value();
    }
    return nullptr;
}

void read_header(const boost::json::value* v, HeaderFields& h) {
    if (!v || !v->is_object()) return;
    const auto& o = v->get_object();
    h.from = one_line(text_of(header_value(o, {"from"})));
    h.replyto = one_line(text_of(header_value(o, {"replyto", "reply-to"})));
    h.subject = one_line(text_of(header_value(o, {"subject"})));
    std::string charset = text_of(header_value(o, {"charset"}));
    if (!charset.empty()) h.charset = charset;
    for (auto& hop : list_of(header_value(o, {"x-haineko-loop"}))) {
        // "a,b" in one string is a list as we write it into the header
        size_t pos = 0;
        while (pos <= hop.size()) {
            size_t comma = hop.find(',', pos);
            std::string part = hop.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
            part.erase(0, part.find_first_not_of(' '));
            part.erase(part.find_last_not_of(' ') + 1);
            if (!part.empty()) h.loop.push_back(one_line(part));
            if (comma == std::string::npos) break;
            pos = comma + 1;
        }
    }
    for (auto& r : list_of(header_value(o, {"received"}))) h.received.push_back(one_line(r));
}

}  // namespace

int http_status_of(const Reply& refusal) {
    if (refusal.id == "auth/access-denied" || refusal.id == "rcpt/too-many-recipients") return 403;
    if (refusal.id == "conf/not-looks-like-number") return 500;
    return 400;
}

CheckOutcome check_submission_text(const Config& config, std::string_view body, Submission base) {
    // The parsed request lives only while it is checked: its memory comes from the stack
    // (and from the heap only past that), in a few large pieces instead of many small.
    unsigned char buffer[4096];
    boost::json::monotonic_resource memory(buffer, sizeof buffer);
    auto parsed = parse_request_json(body, &memory);
    if (!parsed || !parsed->is_object()) {
        CheckOutcome out;
        out.submission = std::move(base);
        out.http_status = 400;
        out.replies.push_back(named_reply("http", "malformed-json"));
        out.replies.back().cause = "not JSON: " + json_error_position(body);
        return out;
    }
    return check_submission_json(config, *parsed, std::move(base));
}

CheckOutcome check_submission_json(const Config& config, const boost::json::value& request, Submission base) {
    CheckOutcome out;
    out.submission = std::move(base);
    Submission& s = out.submission;
    auto refused = [&out](Reply r) {
        out.http_status = http_status_of(r);
        out.replies.push_back(std::move(r));
        return out;
    };

    // 4: the body is JSON of the right shape
    std::vector<std::string> recipients;
    try {
        if (!request.is_object()) throw WrongType{};
        const auto& o = request.get_object();
        s.ehlo = checked_text(first_of(o, {"ehlo", "helo"}));
        s.mail = envelope_address(first_of(o, {"mail", "send", "from"}));
        recipients = recipients_of(first_of(o, {"rcpt", "recv", "to"}));
        s.body = text_of(first_of(o, {"body"}));
        read_header(first_of(o, {"header"}), s.header);
    } catch (const WrongType&) {
        Reply r = named_reply("http", "malformed-json");
        r.cause = "a content field is a list or an object, not text";
        return refused(std::move(r));
    }

    // 5: loop detection
    if (auto r = loop_refusal(config, s.header.loop)) return refused(std::move(*r));
    s.header.loop.push_back(config.node_id);
    // 6-7: EHLO
    if (auto r = ehlo_refusal(s.ehlo)) return refused(std::move(*r));
    // 8-10: the envelope sender, and the addresses in From and Reply-To
    if (auto r = mail_refusal(s.mail)) return refused(std::move(*r));
    if (auto r = header_address_refusal(s.header)) return refused(std::move(*r));
    // 11-12: how many recipients
    if (auto r = rcpt_count_refusal(config, recipients.size())) return refused(std::move(*r));
    out.requested_rcpts = recipients;
    // 13-14: each recipient; the refused ones keep their entry
    for (auto& rcpt : recipients) {
        if (auto r = rcpt_refusal(config, rcpt))
            out.replies.push_back(std::move(*r));
        else
            s.rcpt.push_back(std::move(rcpt));
    }
    // 15: nobody left
    if (s.rcpt.empty()) {
        out.http_status = 400;
        return out;
    }
    // 16-18: body and subject
    if (auto r = data_refusal(config, s)) return refused(std::move(*r));
    return out;
}

}  // namespace haineko
