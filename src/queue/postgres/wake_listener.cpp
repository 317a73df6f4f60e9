#include "queue/postgres/wake_listener.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <chrono>
#include <memory>

namespace haineko::queue::postgres {

namespace {

// How often the thread looks up from its wait to see whether it should stop.
constexpr int kPollMillis = 200;

using Connection = std::unique_ptr<PGconn, decltype(&PQfinish)>;

Connection listening(const std::string& url) {
    Connection conn(PQconnectdb(url.c_str()), PQfinish);
    if (!conn || PQstatus(conn.get()) != CONNECTION_OK) return Connection(nullptr, PQfinish);
    PGresult* res = PQexec(conn.get(), (std::string("LISTEN ") + kWakeChannel).c_str());
    const bool ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok) return Connection(nullptr, PQfinish);
    return conn;
}

}  // namespace

WakeListener::WakeListener(std::string url, std::function<void()> wake)
    : url_(std::move(url)), wake_(std::move(wake)), thread_([this] { serve(); }) {}

WakeListener::~WakeListener() {
    stopping_ = true;
    thread_.join();
}

void WakeListener::serve() {
    Connection conn(nullptr, PQfinish);
    auto next_try = std::chrono::steady_clock::now();
    while (!stopping_) {
        if (!conn) {
            if (std::chrono::steady_clock::now() < next_try) {
                ::poll(nullptr, 0, kPollMillis);
                continue;
            }
            conn = listening(url_);
            next_try = std::chrono::steady_clock::now() + std::chrono::seconds(1);
            if (!conn) continue;
            wake_();  // work may have come while nobody listened
        }
        pollfd pfd{PQsocket(conn.get()), POLLIN, 0};
        if (::poll(&pfd, 1, kPollMillis) <= 0) continue;
        if (!PQconsumeInput(conn.get()) || PQstatus(conn.get()) != CONNECTION_OK) {
            conn.reset();
            continue;
        }
        bool heard = false;
        while (PGnotify* n = PQnotifies(conn.get())) {
            heard = true;
            PQfreemem(n);
        }
        if (heard) wake_();
    }
}

}  // namespace haineko::queue::postgres
