// start, stop, restart and status: a background server and its pid file.
#pragma once
#include <string>
#include <sys/types.h>

namespace haineko {

// The pid in the file when that process is alive, else 0.
pid_t running_pid(const std::string& pid_file);

// Detaches into the background (double fork, new session, output to log_file) and writes
// the pid file. Returns in the child; the parent exits 0 once the pid file exists.
void daemonize(const std::string& pid_file, const std::string& log_file);

// SIGTERM, then waits up to timeout_seconds. True when it stopped (or was not running).
bool stop_process(const std::string& pid_file, int timeout_seconds);

}  // namespace haineko
