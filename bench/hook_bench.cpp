// One hook call into a plugin that returns CONT, timed in-process (issue 21 bounds it under
// 2 µs): the host's whole path, the coroutine resumed per call, the instruction count hook,
// the deadline and the metrics included. `hook_bench [CALLS]`; bench/bench.py --plugins runs it.
#include <boost/asio.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
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
    return 0;
}
