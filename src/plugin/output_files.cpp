#include "plugin/output_files.hpp"

#include <spdlog/spdlog.h>

namespace haineko::plugin {

OutputFiles& OutputFiles::get() {
    static OutputFiles files;
    return files;
}

OutputFiles::OutputFiles() : thread_([this] { run(); }) {}

OutputFiles::~OutputFiles() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
    for (auto& [path, f] : files_) std::fclose(f);
}

bool OutputFiles::append(const std::string& path, std::string line) {
    {
        std::lock_guard lock(mutex_);
        if (queued_ + line.size() > kMaxQueued) return false;
        queued_ += line.size();
        lines_.emplace_back(path, std::move(line));
    }
    wake_.notify_one();
    return true;
}

void OutputFiles::flush() {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [this] { return lines_.empty() && !writing_; });
}

void OutputFiles::run() {
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [this] { return stop_ || !lines_.empty(); });
        if (lines_.empty() && stop_) return;
        auto batch = std::move(lines_);
        lines_.clear();
        writing_ = true;
        lock.unlock();
        for (const auto& [path, line] : batch) write(path, line);
        for (auto& [path, f] : files_) std::fflush(f);
        lock.lock();
        for (const auto& [path, line] : batch) queued_ -= line.size();
        writing_ = false;
        idle_.notify_all();
    }
}

void OutputFiles::write(const std::string& path, const std::string& line) {
    auto it = files_.find(path);
    if (it == files_.end()) {
        std::FILE* f = std::fopen(path.c_str(), "a");
        if (!f) {
            spdlog::error("plugin output {} cannot be opened; its lines are lost", path);
            return;
        }
        it = files_.emplace(path, f).first;
    }
    std::fwrite(line.data(), 1, line.size(), it->second);
    std::fputc('\n', it->second);
}

}  // namespace haineko::plugin
