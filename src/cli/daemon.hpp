// A server's pid file and what start, stop, restart, status and reload do with it.
//
// A running server holds an fcntl lock on its pid file for its whole life. Only the lock
// is believed: a pid file left behind by a dead server, whose pid now belongs to some
// other program, is stale and nobody is signalled.
#pragma once
#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace haineko {

// The pid file this process holds; unlocked and removed when it goes.
class PidFile {
public:
    // Locks path and writes our pid. nullopt, with holder set, when a live server holds
    // it; throws std::runtime_error when the file cannot be written at all.
    static std::optional<PidFile> acquire(const std::string& path, pid_t& holder);
    PidFile(PidFile&& other) noexcept;
    PidFile& operator=(PidFile&& other) noexcept;
    ~PidFile();
    const std::string& path() const { return path_; }

private:
    PidFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
    void release();
    std::string path_;
    int fd_ = -1;
};

// The pid of the server holding pid_file's lock, or 0 when none does.
pid_t running_pid(const std::string& pid_file);

// SIGTERM to the holder, then waits up to timeout_seconds for its lock to go. True when
// it stopped (or none was running).
bool stop_process(const std::string& pid_file, int timeout_seconds);

// How a running server was started: its arguments after the command (run/start), and
// its HAINEKO_* environment, from /proc, so that restart can keep them.
std::vector<std::string> server_arguments(pid_t pid);
std::map<std::string, std::string> server_environment(pid_t pid);

// Detaching into the background. The parent waits until the child says it serves (or
// why it cannot), prints that, and exits with the child's status; the child goes on.
class Daemon {
public:
    // Returns in the child. Standard output and error go to log_file.
    static Daemon detach(const std::string& log_file);
    void ready(pid_t pid);                          // the parent prints "started" and exits 0
    void failed(const std::string& why, int code);  // the parent prints why and exits code

private:
    explicit Daemon(int fd) : fd_(fd) {}
    int fd_ = -1;
};

}  // namespace haineko
