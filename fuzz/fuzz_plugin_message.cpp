// A message as the plugins see it at data_post (plugin/header_fields, the prelude's header
// object and what it writes back): any bytes as the message, through a plugin that reads,
// adds, changes and removes fields and keeps the body. Nothing may crash or raise; a
// message the hook left alone keeps its bytes; one it changed keeps its body, and every
// field the hook added is in the header.
#include <boost/asio.hpp>

#include <cstdint>

#include "fuzz_support.hpp"
#include "plugin/host.hpp"
#include "plugin/session.hpp"

namespace {

namespace asio = boost::asio;
using namespace haineko;

const char* const kPlugin = R"lua(
local P = {}
function P.hook_data_post(conn, txn)
  local h = txn.header
  local subject = h:get("Subject")
  local all = h:get_all("Received")
  if subject and subject:find("touch", 1, true) then
    h:add("X-Fuzz", "added " .. #all)
    h:change("Subject", "changed")
    h:remove("X-Remove")
    h:insert("X-Top", "top")
  end
end
return P
)lua";

plugin::Host& host() {
    static std::unique_ptr<plugin::Host> h = [] {
        PluginSettings settings;
        PluginFile f;
        f.name = "fuzz";
        f.path = "fuzz.lua";
        f.code = kPlugin;
        f.max_instructions = 1'000'000;
        settings.list.push_back(f);
        return std::make_unique<plugin::Host>(settings);
    }();
    return *h;
}

struct Keep {
    void operator()(plugin::Host*) const {}  // the host lives for the whole run
};

void run_one(const std::string& bytes) {
    static std::shared_ptr<plugin::Host> shared(&host(), Keep{});
    asio::io_context ctx;
    plugin::TxnMessage m{"a@example.org", {"b@example.org"}, bytes, {}, false};
    plugin::Result result;
    // A named lambda: it must outlive the coroutine it makes (its captures live in it).
    auto play = [&]() -> asio::awaitable<void> {
        plugin::ConnFacts facts;
        facts.id = "1";
        facts.mode = "relay";
        plugin::Session s(shared, facts);
        std::string sender = "a@example.org", rcpt = "b@example.org";
        const std::string id = "q";
        const plugin::Params none;
        co_await s.mail(id, sender, none);
        co_await s.rcpt(rcpt, none);
        s.accept_rcpt();
        result = co_await s.data_post(m);
    };
    asio::co_spawn(ctx, play(), asio::detached);
    ctx.run();
    FUZZ_CHECK(result.failure.empty(), "the hook never fails on a message");
    if (!m.changed) {
        FUZZ_CHECK(m.bytes == bytes, "an untouched message keeps its bytes");
    } else {
        FUZZ_CHECK(m.bytes.find("X-Fuzz: added ") != std::string::npos, "the added field is there");
        FUZZ_CHECK(m.bytes.find("X-Top: top\r\n") == 0, "the inserted field is first");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    run_one(std::string(reinterpret_cast<const char*>(data), size));
    return 0;
}
