// The HTTP request path: bytes into Beast's request parser with the server's header and
// body limits (src/http/server.cpp), then handle_request on an event loop whose routes all
// use the Discard mailer. Every answer must be JSON in valid UTF-8 with the headers every
// answer carries. Up to four pipelined requests are read from one input.
//
// The first byte picks the setting: bit 0 turns Basic auth on (user haineko, password
// haineko), bit 1 makes the peer 192.0.2.7 (a relay host, not loopback) instead of
// 127.0.0.1. Both settings run in development mode (GET /submit) and trust 127.0.0.1 and
// 10.0.0.0/8 as proxies, so that X-Forwarded-For is read.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <set>

#include "fuzz_support.hpp"
#include "http/handlers.hpp"

using namespace haineko;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace json = boost::json;

namespace {

struct World {
    fuzz::TempRoot root;
    std::shared_ptr<const Config> plain, auth;
    asio::io_context ctx{1};
    std::unique_ptr<MailerSet> mailers;

    World() {
        // Logging runs as in the server, into nowhere.
        spdlog::set_default_logger(std::make_shared<spdlog::logger>("fuzz", std::make_shared<spdlog::sinks::null_sink_mt>()));
        const std::string proxies = "    trusted_proxies: ['127.0.0.1', '10.0.0.0/8']\n";
        plain = fuzz::load_fixed_config(root, proxies, true, false);
        auth = fuzz::load_fixed_config(root, proxies, true, true);
        mailers = std::make_unique<MailerSet>(ctx.get_executor(), 1, *plain);
    }
};

void check_answer(const Response& res) {
    // The compat contract's statuses, and those /v1 adds (202, 409, 422, 503); here /v1 has
    // no queue, so it answers 503 queue-unavailable past its access checks.
    static const std::set<unsigned> statuses{200, 202, 400, 401, 403, 404, 405, 409, 413, 422, 431, 500, 503};
    FUZZ_CHECK(statuses.count(res.result_int()), "answer status outside the contract's");
    FUZZ_CHECK(res[http::field::content_type].starts_with("application/json"), "answer is not application/json");
    FUZZ_CHECK(res["X-Content-Type-Options"] == "nosniff", "answer without X-Content-Type-Options: nosniff");
    FUZZ_CHECK(res.has_content_length() && res[http::field::content_length] == std::to_string(res.body().size()),
               "Content-Length does not match the body");
    if (res.result() == http::status::unauthorized)
        FUZZ_CHECK(res[http::field::www_authenticate].starts_with("Basic"), "401 without WWW-Authenticate");
    FUZZ_CHECK(fuzz::is_valid_utf8(res.body()), "answer is not valid UTF-8");
    json::error_code ec;
    json::value v = json::parse(res.body(), ec);
    FUZZ_CHECK(!ec, "answer is not JSON");
    FUZZ_CHECK(v.is_object() || v.is_array(), "answer is neither an object nor an array");
}

// What the server writes for a request it could not read whole (refuse_after_error), with
// the session facts of what was read.
void check_refusal(http::status status, std::string_view name, const http::request_parser<http::string_body>& parser,
                   const Peer& peer, const Config& config) {
    Response res = error_response(status, "http", name, client_facts(parser.get(), peer, config), 11, false);
    check_answer(res);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static World world;
    if (size == 0) return 0;
    const uint8_t mode = data[0];
    std::string_view rest = fuzz::as_text(data + 1, size - 1);
    const std::shared_ptr<const Config> cfg = (mode & 1) ? world.auth : world.plain;
    const Peer peer{(mode & 2) ? "192.0.2.7" : "127.0.0.1", 50320};

    for (int n = 0; n < 4 && !rest.empty(); ++n) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(cfg->smtpd.max_header_size));
        parser.body_limit(cfg->request_body_limit());
        parser.eager(true);
        beast::error_code ec;
        size_t used = 0;
        bool length_checked = false;
        while (!parser.is_done() && used < rest.size()) {
            size_t k = parser.put(asio::buffer(rest.data() + used, rest.size() - used), ec);
            used += k;
            if (ec == http::error::need_more) {
                ec = {};
                if (k == 0) break;  // the input ends inside the request
                continue;
            }
            if (ec || k == 0) break;
            if (parser.is_header_done() && !length_checked) {
                length_checked = true;
                if (auto length = parser.content_length(); length && *length > cfg->request_body_limit()) {
                    check_refusal(http::status::payload_too_large, "payload-too-large", parser, peer, *cfg);
                    return 0;
                }
            }
        }
        if (ec == http::error::header_limit) {
            check_refusal(http::status::request_header_fields_too_large, "header-too-large", parser, peer, *cfg);
            return 0;
        }
        if (ec == http::error::body_limit) {
            check_refusal(http::status::payload_too_large, "payload-too-large", parser, peer, *cfg);
            return 0;
        }
        if (ec) {
            check_refusal(http::status::bad_request, "bad-request", parser, peer, *cfg);
            return 0;
        }
        if (!parser.is_done()) return 0;  // a partial request: the server would wait, then time out
        rest.remove_prefix(used);

        Request request = parser.release();
        std::optional<Response> answer;
        asio::co_spawn(world.ctx, handle_request(request, peer, cfg, *world.mailers),
                       [&](std::exception_ptr e, Response res) {
                           if (e) std::rethrow_exception(e);  // the server would drop the connection unanswered
                           answer = std::move(res);
                       });
        world.ctx.restart();
        while (!answer && world.ctx.run_one()) {
        }
        FUZZ_CHECK(answer.has_value(), "handle_request did not finish");
        check_answer(*answer);
        if (!answer->keep_alive()) break;
    }
    return 0;
}
