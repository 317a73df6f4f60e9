#include "cli/daemon.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace haineko {

pid_t running_pid(const std::string& pid_file) {
    std::ifstream in(pid_file);
    long pid = 0;
    if (!(in >> pid) || pid <= 1) return 0;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return 0;
    return static_cast<pid_t>(pid);
}

void daemonize(const std::string& pid_file, const std::string& log_file) {
    std::filesystem::create_directories(std::filesystem::path(pid_file).parent_path());
    std::filesystem::create_directories(std::filesystem::path(log_file).parent_path());
    pid_t first = ::fork();
    if (first < 0) throw std::runtime_error("fork failed");
    if (first > 0) {  // the original process waits for the pid file, then reports
        for (int i = 0; i < 100 && running_pid(pid_file) == 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        pid_t pid = running_pid(pid_file);
        if (pid == 0) {
            std::fprintf(stderr, "hainekoctl: the server did not start; see %s\n", log_file.c_str());
            std::fflush(stderr);
            std::_Exit(1);
        }
        std::printf("Haineko started, pid %d\n", static_cast<int>(pid));
        std::fflush(stdout);  // _Exit does not flush
        std::_Exit(0);
    }
    ::setsid();
    if (pid_t second = ::fork(); second != 0) std::_Exit(second < 0 ? 1 : 0);
    ::umask(027);
    int null_fd = ::open("/dev/null", O_RDONLY);
    int log_fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    if (log_fd >= 0) {
        ::dup2(log_fd, STDOUT_FILENO);
        ::dup2(log_fd, STDERR_FILENO);
    }
    std::string temp = pid_file + ".tmp";
    {
        std::ofstream out(temp);
        out << ::getpid() << "\n";
    }
    std::rename(temp.c_str(), pid_file.c_str());
}

bool stop_process(const std::string& pid_file, int timeout_seconds) {
    pid_t pid = running_pid(pid_file);
    if (pid == 0) return true;
    ::kill(pid, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
    while (std::chrono::steady_clock::now() < deadline) {
        if (::kill(pid, 0) != 0) {
            std::remove(pid_file.c_str());
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
}

}  // namespace haineko
