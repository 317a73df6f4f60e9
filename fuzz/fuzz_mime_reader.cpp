// A whole message read back into text, HTML and attachments (message/mime_reader), as the
// JSON clouds get a queued message: any bytes, from a client or the queue. Nothing may
// escape but the result; text and HTML are UTF-8; and what was read, built again with
// build_mime and read once more, comes back the same.
#include <algorithm>
#include <cstdint>

#include "fuzz_support.hpp"
#include "message/mime.hpp"
#include "message/mime_reader.hpp"

using namespace haineko;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view bytes = fuzz::as_text(data, size);
    const ReadMessage first = read_message(bytes);
    const MimeContent& c = first.content;
    if (c.text) FUZZ_CHECK(is_valid_utf8(*c.text), "text is not UTF-8");
    if (c.html) FUZZ_CHECK(is_valid_utf8(*c.html), "html is not UTF-8");
    FUZZ_CHECK(c.attachments.size() <= size + 1, "more parts than bytes");
    for (const auto& a : c.attachments) FUZZ_CHECK(a.content.size() <= size, "a part larger than the message");
    (void)decode_quoted_printable(bytes);

    // Built again as the builder would (its rules for types, names and line ends), then
    // read: the same text, HTML and attachment bytes.
    MimeContent again = c;
    auto plain = [](const std::optional<std::string>& t) {
        return !t || t->find('\r') == std::string::npos;  // the builder makes a lone CR a line break
    };
    if (!plain(again.text) || !plain(again.html)) return 0;
    if (!again.text && !again.html && again.attachments.empty()) return 0;
    if ((again.text && again.text->empty()) || (again.html && again.html->empty())) return 0;  // no part for ""
    for (auto& a : again.attachments) {
        // A text part kept as an attachment could be read as the text the second time.
        if (a.content_type == "text/plain" || a.content_type == "text/html") return 0;
        if (!is_media_type(a.content_type)) a.content_type = "application/octet-stream";
    }
    const MimeEntity built = build_mime(again, "fuzz");
    const ReadMessage second = read_message(built.header + "\r\n" + built.body);
    // The builder ends every text with a line break.
    auto ended = [](std::optional<std::string> t) {
        if (t && !t->ends_with('\n')) *t += '\n';
        return t;
    };
    FUZZ_CHECK(second.content.text == ended(again.text), "text changed on the way back");
    FUZZ_CHECK(second.content.html == ended(again.html), "html changed on the way back");
    FUZZ_CHECK(second.content.attachments.size() == again.attachments.size(), "attachments lost on the way back");
    // The builder puts inline parts before the others: compare the bytes in any order.
    auto contents = [](const std::vector<Attachment>& list) {
        std::vector<std::string> out;
        for (const auto& a : list) out.push_back(a.content);
        std::sort(out.begin(), out.end());
        return out;
    };
    FUZZ_CHECK(contents(second.content.attachments) == contents(again.attachments), "attachment bytes changed");
    return 0;
}
