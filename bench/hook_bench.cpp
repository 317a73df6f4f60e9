// One hook call into a plugin that returns CONT, timed in-process (issue 21 bounds it under
// 2 µs): the host's whole path, the coroutine resumed per call, the instruction count hook,
// the deadline and the metrics included. `hook_bench [CALLS]`; bench/bench.py --plugins runs it.
#include <boost/asio.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <memory>

#include "config/config.hpp"
#include "plugin/host.hpp"
#include "plugin/session.hpp"

namespace asio = boost::asio;
using namespace haineko;

namespace {

PluginSettings one_plugin(const char* hook) {
    PluginFile p;
    p.name = "cont";
    p.path = "(bench)/cont.lua";
    p.code = std::string("local P = {}\nfunction P.") + hook + "(conn, txn, arg) return haineko.CONT end\nreturn P\n";
    p.origin = "bench";
    PluginSettings s;
    s.list.push_back(p);
    return s;
}

// The four plugins of bench/plugin_scenarios.py: one hook each at connect, mail, rcpt and
// data_post.
PluginSettings four_plugins() {
    PluginSettings s;
    PluginFile connect;
    connect.name = "connect_note";
    connect.path = "(bench)/connect_note.lua";
    connect.code = "local P = {}\nfunction P.hook_connect(conn) conn.notes.seen = conn.remote.ip end\nreturn P\n";
    PluginFile mail;
    mail.name = "mail_check";
    mail.path = "(bench)/mail_check.lua";
    mail.code = "local P = {}\nfunction P.hook_mail(conn, txn, sender)\n"
                "  if sender.address:find('@blocked.example', 1, true) then return haineko.DENY, 'blocked' end\nend\nreturn P\n";
    PluginFile extension;
    extension.name = "rcpt_to.extension";
    PluginFile header;
    header.name = "headers.add";
    header.config = boost::json::object{{"name", "X-Bench"}, {"value", "%{queue_id}"}, {"check_from", false}};
    for (PluginFile* p : {&connect, &mail, &extension, &header}) {
        p->origin = "bench";
        s.list.push_back(*p);
    }
    return s;
}

// One whole SMTP-like session through the plugins, as the inbound bench makes them.
asio::awaitable<double> time_sessions(std::shared_ptr<plugin::Host> host, long sessions) {
    std::string body = "From: a@example.org\r\nTo: b@example.net\r\nSubject: bench\r\n\r\n";
    body += std::string(1024, 'x') + "\r\n";
    const std::string verb = "EHLO", helo = "client.example.org", id = "kBENCH00000001";
    const plugin::Params none;
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < sessions; ++i) {
        plugin::ConnFacts facts;
        facts.id = "bench";
        facts.remote_ip = "192.0.2.1";
        facts.mode = "inbound";
        plugin::Session session(host, facts);
        (void)co_await session.connect();
        (void)co_await session.ehlo(verb, helo);
        std::string sender = "a@example.org", rcpt = "b-news@example.net";
        (void)co_await session.mail(id, sender, none);
        (void)co_await session.rcpt(rcpt, none);
        session.accept_rcpt();
        plugin::TxnMessage m{sender, {rcpt}, body, {}, false};
        (void)co_await session.data_post(m);
        co_await session.disconnect();
    }
    co_return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

asio::awaitable<double> time_calls(std::shared_ptr<plugin::Host> host, long calls) {
    plugin::ConnFacts facts;
    facts.id = "bench";
    facts.remote_ip = "192.0.2.1";
    facts.mode = "inbound";
    plugin::Session session(host, facts);
    for (int i = 0; i < 1000; ++i) (void)co_await session.connect();  // warm up
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < calls; ++i) (void)co_await session.connect();
    co_return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
    const long calls = argc > 1 ? std::atol(argv[1]) : 200000;
    if (calls <= 0) {
        std::fprintf(stderr, "usage: hook_bench [CALLS]\n");
        return 2;
    }
    auto host = std::make_shared<plugin::Host>(one_plugin("hook_connect"));
    asio::io_context io;
    double seconds = 0;
    asio::co_spawn(io, time_calls(host, calls), [&](std::exception_ptr e, double s) {
        if (e) std::rethrow_exception(e);
        seconds = s;
    });
    io.run();
    std::printf("one hook call (hook_connect returning CONT, through plugin::Session): %.0f ns (%ld calls)\n",
                seconds * 1e9 / static_cast<double>(calls), calls);
    auto four = std::make_shared<plugin::Host>(four_plugins());
    const long sessions = std::max(1L, calls / 20);
    asio::co_spawn(io, time_sessions(four, sessions), [&](std::exception_ptr e, double s) {
        if (e) std::rethrow_exception(e);
        seconds = s;
    });
    io.restart();
    io.run();
    std::printf("one session through the 4 bench plugins (connect, ehlo, mail, rcpt, data_post of 1 KB, "
                "disconnect): %.1f us (%ld sessions)\n", seconds * 1e6 / static_cast<double>(sessions), sessions);
    return 0;
}
