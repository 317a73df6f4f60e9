// hainekoctl queue: list, show, flush, hold, release, delete and stats, through the
// running server's /v1 (-o/-p). A table for people, the API's JSON with --json. Exits 0
// on success, 1 when the server answers an error, 3 when no server answers.
#pragma once
#include <CLI/CLI.hpp>

#include <string>

namespace haineko {

struct QueueCommand {
    CLI::App* app = nullptr;
    CLI::App *list = nullptr, *show = nullptr, *flush = nullptr, *hold = nullptr, *release = nullptr,
             *remove = nullptr, *stats = nullptr;
    std::string host = "127.0.0.1";
    int port = 2794;
    std::string credentials;  // --auth USER:PASSWORD, or $HAINEKO_CREDENTIALS
    bool json = false;
    std::string status;
    std::string id;
};

void add_queue_command(CLI::App& app, QueueCommand& q);
int run_queue_command(const QueueCommand& q);

}  // namespace haineko
