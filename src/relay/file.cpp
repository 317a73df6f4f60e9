// File: writes one .eml file per message and recipient into a directory. The writing runs
// on the blocking pool, never on an event loop. The file is written under a temporary
// name, fsync'd, renamed, and the directory fsync'd, so that "saved" means on disk and a
// reader never sees half a message.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "core/blocking.hpp"
#include "relay/mailer.hpp"

namespace haineko {
namespace {

std::string safe_for_file_name(std::string_view s) {
    std::string out;
    for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || std::strchr("@._+-", c)) ? c : '_';
    return out.substr(0, 128);
}

std::string timestamp(std::chrono::system_clock::time_point when) {
    std::time_t t = std::chrono::system_clock::to_time_t(when);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d-%H:%M:%S", &tm);
    return buf;
}

bool write_all(int fd, const std::string& data) {
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
        ssize_t n = ::write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n;
        left -= static_cast<size_t>(n);
    }
    return true;
}

// The whole durable write; an empty answer means the file is on disk under final_path.
std::string save(const std::string& dir, const std::string& temp_path, const std::string& final_path,
                 const std::string& content) {
    int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) return std::strerror(errno);
    bool ok = write_all(fd, content) && ::fsync(fd) == 0;
    int saved = errno;
    if (::close(fd) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (ok && std::rename(temp_path.c_str(), final_path.c_str()) != 0) {
        ok = false;
        saved = errno;
    }
    if (!ok) {
        ::unlink(temp_path.c_str());
        return std::strerror(saved);
    }
    // The rename lives in the directory: without this fsync a crash could forget it.
    int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) return std::string("saved, but the directory could not be synced: ") + std::strerror(errno);
    const bool synced = ::fsync(dir_fd) == 0;
    saved = errno;
    ::close(dir_fd);
    return synced ? std::string() : std::string("saved, but the directory could not be synced: ") + std::strerror(saved);
}

class FileMailer final : public Mailer {
public:
    boost::asio::awaitable<Reply> deliver(const Delivery& d) override {
        namespace fs = std::filesystem;
        std::string dir = d.route.path.empty() ? fs::temp_directory_path().string() : d.route.path;
        std::string local_id = d.message.message_id.substr(0, d.message.message_id.find('@'));
        std::string name = "haineko." + timestamp(d.submission.started) + "." + local_id + "." +
                           safe_for_file_name(d.rcpt) + ".eml";
        std::string final_path = dir + "/" + name;
        static std::atomic<unsigned long> sequence{0};
        std::string temp_path = dir + "/.tmp." + std::to_string(::getpid()) + "." + std::to_string(++sequence) + "." + name;

        // A named local: GCC 12 destroys a lambda temporary in a co_await expression twice.
        auto write = [dir, temp_path, final_path, content = d.message.for_recipient(d.rcpt)] {
            return save(dir, temp_path, final_path, content);
        };
        std::string problem = co_await off_loop(std::move(write));
        // As the original, the File mailer's answer has no dsn.
        Reply r;
        r.command = "DATA";
        if (problem.empty()) {
            r.code = 200;
            r.message = {final_path, "Successfully saved"};
        } else {
            r.code = 451;
            r.message = {final_path, "Failed to save: " + problem};
        }
        co_return r;
    }
};

}  // namespace

std::unique_ptr<Mailer> make_file_mailer() { return std::make_unique<FileMailer>(); }

}  // namespace haineko
