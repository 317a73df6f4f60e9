// message_dump OUTDIR INPUT...: builds the message of each input file, split into fields
// as the message_builder fuzz target does (fuzz/message_fields.hpp), and writes it as
// OUTDIR/NAME.eml, plus OUTDIR/NAME.json with the fields as given (UTF-8 text, bytes that
// are not UTF-8 replaced) for tests/integration/test_builder_python.py to compare against.
// Prints a line for each message that breaks a rule of fuzz/message_check.hpp and then
// exits 1.
#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "config/config.hpp"
#include "message/builder.hpp"
#include "message_check.hpp"
#include "message_fields.hpp"

using namespace haineko;

namespace {

// Invalid UTF-8 bytes become U+FFFD, so that the JSON file is text.
std::string utf8_or_replacement(std::string_view s) {
    std::string out;
    size_t i = 0;
    while (i < s.size()) {
        size_t len = 1;
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x80) len = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
        if (len == 0 || i + len > s.size() || !fuzz::is_valid_utf8(s.substr(i, len))) {
            out += "\xEF\xBF\xBD";
            ++i;
            continue;
        }
        out += s.substr(i, len);
        i += len;
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::cerr << "usage: message_dump OUTDIR INPUT...\n";
        return 2;
    }
    const std::filesystem::path outdir = argv[1];
    std::filesystem::create_directories(outdir);
    Config config;
    config.smtpd.hostname = fuzz::kFuzzHostname;
    int broken = 0;
    for (int i = 2; i < argc; ++i) {
        const std::filesystem::path input = argv[i];
        std::ifstream in(input, std::ios::binary);
        if (!in) {
            std::cerr << input << ": cannot read\n";
            return 2;
        }
        std::stringstream data;
        data << in.rdbuf();
        const auto fields = fuzz::split_message_fields(data.str());
        const Submission s = fuzz::submission_from(fields, config.smtpd.hostname);
        const BuiltMessage m = build_message(s, config);
        const std::string message = m.for_recipient(s.rcpt.front());
        if (auto problem = fuzz::message_problem(message, s)) {
            std::cout << input.filename().string() << ": " << *problem << "\n";
            ++broken;
        }
        const std::string name = input.filename().string();
        std::ofstream(outdir / (name + ".eml"), std::ios::binary) << message;
        boost::json::object given;
        const std::string* values[] = {&fields.subject, &fields.from,    &fields.replyto, &fields.body,
                                       &fields.charset, &fields.useragent, &fields.referer, &fields.rcpt,
                                       &fields.mail,    &fields.ehlo,    &fields.received};
        for (size_t k = 0; k < fuzz::kFieldNames.size(); ++k) given[fuzz::kFieldNames[k]] = utf8_or_replacement(*values[k]);
        given["envelope_mail"] = s.mail;
        given["envelope_rcpt"] = utf8_or_replacement(s.rcpt.front());
        given["charset_used"] = m.charset;
        given["transfer_encoding"] = m.transfer_encoding;
        std::ofstream(outdir / (name + ".json"), std::ios::binary) << boost::json::serialize(given);
    }
    return broken ? 1 : 0;
}
