#include "cli/daemon.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

namespace haineko {
namespace {

// The pid holding a write lock on fd's file, or 0.
pid_t lock_holder(int fd) {
    struct flock probe {};
    probe.l_type = F_WRLCK;
    probe.l_whence = SEEK_SET;
    if (::fcntl(fd, F_GETLK, &probe) != 0 || probe.l_type == F_UNLCK) return 0;
    return probe.l_pid;
}

std::vector<std::string> proc_strings(pid_t pid, const char* file) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/" + file, std::ios::binary);
    std::vector<std::string> out;
    std::string item;
    while (std::getline(in, item, '\0')) out.push_back(item);
    return out;
}

bool write_all(int fd, const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace

std::optional<PidFile> PidFile::acquire(const std::string& path, pid_t& holder) {
    holder = 0;
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("cannot open the pid file " + path + ": " + std::strerror(errno));
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    if (::fcntl(fd, F_SETLK, &lock) != 0) {
        holder = lock_holder(fd);
        ::close(fd);
        if (holder == 0) holder = -1;  // held, by a process we cannot name
        return std::nullopt;
    }
    const std::string text = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || !write_all(fd, text)) {
        ::close(fd);
        throw std::runtime_error("cannot write the pid file " + path + ": " + std::strerror(errno));
    }
    return PidFile(path, fd);
}

PidFile::PidFile(PidFile&& other) noexcept : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

PidFile& PidFile::operator=(PidFile&& other) noexcept {
    if (this != &other) {
        release();
        path_ = std::move(other.path_);
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

PidFile::~PidFile() { release(); }

void PidFile::release() {
    if (fd_ < 0) return;
    ::unlink(path_.c_str());  // while still locked, so nobody sees a stale file in between
    ::close(fd_);
    fd_ = -1;
}

pid_t running_pid(const std::string& pid_file) {
    int fd = ::open(pid_file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    pid_t holder = lock_holder(fd);
    ::close(fd);
    return holder > 0 ? holder : 0;
}

bool stop_process(const std::string& pid_file, int timeout_seconds) {
    pid_t pid = running_pid(pid_file);
    if (pid == 0) return true;
    ::kill(pid, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
    while (std::chrono::steady_clock::now() < deadline) {
        if (running_pid(pid_file) != pid) {
            // It let go of the pid file as it exited; give its parent a moment to reap it,
            // so that "stopped" also means the process is gone.
            auto reaped = std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(3));
            while (::kill(pid, 0) == 0 && std::chrono::steady_clock::now() < reaped)
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

std::vector<std::string> server_arguments(pid_t pid) {
    auto argv = proc_strings(pid, "cmdline");
    for (std::size_t i = 1; i < argv.size(); ++i)
        if (argv[i] == "run" || argv[i] == "start" || argv[i] == "restart")
            return std::vector<std::string>(argv.begin() + static_cast<long>(i) + 1, argv.end());
    return {};
}

std::map<std::string, std::string> server_environment(pid_t pid) {
    std::map<std::string, std::string> out;
    for (const auto& entry : proc_strings(pid, "environ")) {
        if (!entry.starts_with("HAINEKO_")) continue;
        auto eq = entry.find('=');
        if (eq != std::string::npos) out[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
    return out;
}

Daemon Daemon::detach(const std::string& log_file) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(log_file).parent_path(), ec);
    int report[2];
    if (::pipe2(report, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t first = ::fork();
    if (first < 0) throw std::runtime_error("fork failed");
    if (first > 0) {  // the original process: report what the server says, then go
        ::close(report[1]);
        std::string said;
        char buf[512];
        for (;;) {
            ssize_t n = ::read(report[0], buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            said.append(buf, static_cast<std::size_t>(n));
        }
        if (said.rfind("ok ", 0) == 0) {
            std::string pid = said.substr(3);
            while (!pid.empty() && (pid.back() == '\n' || pid.back() == '\r')) pid.pop_back();
            std::printf("Haineko started, pid %s\n", pid.c_str());
            std::fflush(stdout);
            std::_Exit(0);
        }
        if (said.rfind("error ", 0) == 0) {
            std::istringstream in(said.substr(6));
            int code = 1;
            in >> code;
            std::string why;
            std::getline(in, why);
            if (!why.empty() && why.front() == ' ') why.erase(0, 1);
            std::fprintf(stderr, "hainekoctl: %s\n", why.c_str());
            std::_Exit(code);
        }
        std::fprintf(stderr, "hainekoctl: the server did not start; see %s\n", log_file.c_str());
        std::_Exit(1);
    }
    ::close(report[0]);
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
    return Daemon(report[1]);
}

void Daemon::ready(pid_t pid) {
    if (fd_ < 0) return;
    write_all(fd_, "ok " + std::to_string(pid) + "\n");
    ::close(fd_);
    fd_ = -1;
}

void Daemon::failed(const std::string& why, int code) {
    if (fd_ < 0) return;
    write_all(fd_, "error " + std::to_string(code) + " " + why);
    ::close(fd_);
    fd_ = -1;
}

}  // namespace haineko
