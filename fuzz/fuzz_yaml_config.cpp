// The config loader: load_yaml_file + yaml_to_json on one file, and load_config on a
// throw-away HAINEKO_ROOT whose file is the input. A broken file may only ever throw
// haineko::ConfigError ("FILE:LINE: problem"); anything else escaping is a finding.
//
// The first byte picks the file: 0 the bare YAML reader, 1 etc/haineko.cf, 2 etc/mailertable,
// 3 etc/sendermt, 4 etc/authinfo, 5 etc/relayhosts, 6 etc/recipients, 7 etc/password (with
// Basic auth on), 8 the reader of text in memory (load_yaml_text). Run it with
// -rss_limit_mb=2048: alias expansion that is not bounded blows up memory.
#include <cmath>
#include <cstdint>

#include "config/config.hpp"
#include "config/yaml_file.hpp"
#include "fuzz_support.hpp"

using namespace haineko;
namespace json = boost::json;

namespace {

// What /conf would answer must be JSON again.
void check_json(const json::value& v, const char* what) {
    FUZZ_CHECK(!fuzz::has_non_finite(v), "a non-finite number (nan/inf) in the config's JSON");
    const std::string text = json::serialize(v);
    json::error_code ec;
    json::value back = json::parse(text, ec);
    FUZZ_CHECK(!ec, what);
    (void)back;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static fuzz::TempRoot root;
    static const char* files[] = {"plain.yaml",    "etc/haineko.cf", "etc/mailertable", "etc/sendermt",
                                  "etc/authinfo",  "etc/relayhosts", "etc/recipients",  "etc/password"};
    if (size == 0) return 0;
    const unsigned which = data[0] % 9;
    if (which == 8) {
        try {
            if (auto doc = load_yaml_text(std::string(fuzz::as_text(data + 1, size - 1)), "fuzz.yaml"))
                check_json(yaml_to_json(*doc), "yaml_to_json gives no JSON");
        } catch (const ConfigError&) {
        }
        return 0;
    }
    const std::string_view content = fuzz::as_text(data + 1, size - 1);
    // A root with etc/ must have a haineko.cf: a fixed one unless it is the input.
    static const std::string fixed_cf = "smtpd:\n    hostname: 'haineko.fuzz.example.net'\n";
    if (which != 1) root.write("etc/haineko.cf", fixed_cf);
    const std::string path = root.write(files[which], content);
    try {
        if (which == 0) {
            if (auto doc = load_yaml_file(path)) check_json(yaml_to_json(*doc), "yaml_to_json gives no JSON");
        } else {
            Options options;
            options.root = root.path();
            if (which == 7) options.auth_file = path;
            auto config = load_config(options);
            FUZZ_CHECK(config != nullptr, "load_config returned null");
            FUZZ_CHECK(!config->smtpd.hostname.empty(), "no hostname");
            FUZZ_CHECK(config->request_body_limit() > 0, "no request body limit");
            FUZZ_CHECK(!config->relayhosts.networks.empty() || config->relayhosts.open_relay,
                       "no relay host at all");
            check_json(config->conf_data, "conf_data is not JSON");
            for (const auto& t : config->tables) check_json(t.data, "a table's data is not JSON");
        }
    } catch (const ConfigError&) {
        // a broken file, said as FILE:LINE: problem
    }
    if (which == 1)
        root.write("etc/haineko.cf", fixed_cf);
    else
        root.remove(files[which]);
    return 0;
}
