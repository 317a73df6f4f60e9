// The /submit body: relaxed JSON (parse_request_json) and the contract's checks 4-18
// (check_submission_text) on one fixed configuration. What the checks let through must be
// relayable: ASCII addresses, a valid EHLO, a subject and a body; and what they answer
// must be sound JSON in the session shape.
#include <cmath>
#include <cstdint>
#include <set>

#include "core/address.hpp"
#include "http/answer.hpp"
#include "http/relaxed_json.hpp"
#include "message/builder.hpp"
#include "message_check.hpp"
#include "policy/access.hpp"
#include "http/submission_json.hpp"

using namespace haineko;
namespace json = boost::json;

namespace {

int depth_of(const json::value& v) {
    int deepest = 0;
    if (v.is_array())
        for (const auto& item : v.get_array()) deepest = std::max(deepest, depth_of(item));
    else if (v.is_object())
        for (const auto& kv : v.get_object()) deepest = std::max(deepest, depth_of(kv.value()));
    else
        return 0;
    return deepest + 1;
}

bool strings_valid_utf8(const json::value& v) {
    if (v.is_string()) return fuzz::is_valid_utf8(v.get_string());
    if (v.is_array())
        for (const auto& item : v.get_array())
            if (!strings_valid_utf8(item)) return false;
    if (v.is_object())
        for (const auto& kv : v.get_object())
            if (!fuzz::is_valid_utf8(kv.key()) || !strings_valid_utf8(kv.value())) return false;
    return true;
}

// Equal, but for doubles within a rounding error: Boost.JSON 1.81 does not always parse
// a number to the nearest double, so a round trip may move the last bit.
bool same(const json::value& a, const json::value& b) {
    if (a.is_double() || b.is_double()) {
        if (!a.is_number() || !b.is_number()) return false;
        double x = a.to_number<double>(), y = b.to_number<double>();
        return x == y || std::fabs(x - y) <= 1e-12 * std::max(std::fabs(x), std::fabs(y));
    }
    if (a.is_array() && b.is_array()) {
        const auto &p = a.get_array(), &q = b.get_array();
        if (p.size() != q.size()) return false;
        for (size_t i = 0; i < p.size(); ++i)
            if (!same(p[i], q[i])) return false;
        return true;
    }
    if (a.is_object() && b.is_object()) {
        const auto &p = a.get_object(), &q = b.get_object();
        if (p.size() != q.size()) return false;
        for (const auto& kv : p) {
            auto it = q.find(kv.key());
            if (it == q.end() || !same(kv.value(), it->value())) return false;
        }
        return true;
    }
    return a == b;
}

bool is_one_line(std::string_view s) {
    for (unsigned char c : s)
        if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static fuzz::TempRoot root;
    static const std::shared_ptr<const Config> config = fuzz::load_fixed_config(root);
    const std::string_view text = fuzz::as_text(data, size);

    // The parser: nothing deeper than the limit, only valid UTF-8, and what it returns
    // survives a round trip through strict JSON.
    if (auto parsed = parse_request_json(text)) {
        FUZZ_CHECK(depth_of(*parsed) <= kMaxJsonDepth, "parsed JSON nests deeper than kMaxJsonDepth");
        FUZZ_CHECK(strings_valid_utf8(*parsed), "parsed JSON holds invalid UTF-8");
        // Boost.JSON reads 1e999 as infinity and writes it back as "Infinity", which is not
        // JSON; harmless here (a field's text is all the checks take from a number).
        if (!fuzz::has_non_finite(*parsed)) {
            const std::string strict = json::serialize(*parsed);
            json::error_code ec;
            json::value again = json::parse(strict, ec);
            FUZZ_CHECK(!ec, "serialized request is not JSON");
            FUZZ_CHECK(same(again, *parsed), "request changes in a JSON round trip");
        }
    }
    (void)relaxed_to_strict(text);

    Submission base;
    base.queueid = "QZ7fuzzQ0000abcd";
    base.started = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
    base.client.address = "127.0.0.1";
    base.client.port = 50320;
    CheckOutcome out = check_submission_text(*config, text, base);

    static const std::set<int> statuses{200, 400, 403, 500};
    FUZZ_CHECK(statuses.count(out.http_status), "HTTP status outside the contract's");
    const Submission& s = out.submission;
    if (out.ready_to_relay()) {
        FUZZ_CHECK(!s.rcpt.empty(), "ready to relay with no recipient");
        const auto& max = config->smtpd.max_rcpts_per_message;
        FUZZ_CHECK(max.value <= 0 || static_cast<long long>(s.rcpt.size()) <= max.value, "too many recipients");
        for (const auto& r : s.rcpt) {
            FUZZ_CHECK(!has_non_ascii(r), "accepted recipient is not ASCII");
            FUZZ_CHECK(is_email_address(r), "accepted recipient is not an address");
            FUZZ_CHECK(r.find('@') != std::string::npos, "accepted recipient has no @");
            FUZZ_CHECK(r.find_first_of("<>\r\n") == std::string::npos, "accepted recipient has <, >, CR or LF");
            FUZZ_CHECK(recipient_permitted(*config, r), "accepted recipient is not permitted");
        }
        FUZZ_CHECK(is_valid_ehlo(s.ehlo), "accepted EHLO is not valid");
        FUZZ_CHECK(!has_non_ascii(s.mail) && is_email_address(s.mail), "accepted sender is not an ASCII address");
        FUZZ_CHECK(s.mail.find_first_of("\r\n") == std::string::npos, "accepted sender has CR or LF");
        FUZZ_CHECK(s.mail.find_first_of("<>") == std::string::npos, "accepted sender has < or >");
        FUZZ_CHECK(!s.body.empty(), "accepted empty body");
        FUZZ_CHECK(!s.header.subject.empty(), "accepted empty subject");
        FUZZ_CHECK(is_one_line(s.header.subject) && is_one_line(s.header.from) && is_one_line(s.header.replyto),
                   "a header value keeps a control character");
        for (const auto& r : out.replies) FUZZ_CHECK(r.rcpt.has_value(), "a refused recipient's entry has no rcpt");
    } else {
        FUZZ_CHECK(!out.replies.empty(), "a refusal with no reply");
    }
    for (const auto& r : out.replies) FUZZ_CHECK(r.error(), "a refusal that is not an error");

    // The answer is JSON and valid UTF-8.
    const std::string answer = session_json(s, true, out.replies);
    FUZZ_CHECK(fuzz::is_valid_utf8(answer), "answer is not valid UTF-8");
    json::error_code ec;
    json::value parsed_answer = json::parse(answer, ec);
    FUZZ_CHECK(!ec && parsed_answer.is_object(), "answer is not a JSON object");

    // What goes out: the message of an accepted submission.
    if (out.ready_to_relay()) {
        BuiltMessage m = build_message(s, *config);
        for (const auto& r : s.rcpt) {
            if (auto problem = fuzz::message_problem(m.for_recipient(r), s)) {
                std::fprintf(stderr, "message problem: %s\n", problem->c_str());
                FUZZ_CHECK(false, "built message breaks RFC 5322");
            }
        }
    }
    return 0;
}
