// The files plugins write lines to (haineko.output, to the file its settings name in
// `output`). A hook only hands the line over: one background thread appends it, so a slow
// disk never stalls an event loop. Lines past kMaxQueued bytes waiting are dropped, and said.
#pragma once
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

namespace haineko::plugin {

class OutputFiles {
public:
    static constexpr std::size_t kMaxQueued = 16 * 1024 * 1024;

    static OutputFiles& get();
    ~OutputFiles();
    // False when the line was dropped (too much waiting already).
    bool append(const std::string& path, std::string line);
    // Waits until every line handed over so far is written (for tests and shutdown).
    void flush();

private:
    OutputFiles();
    void run();
    void write(const std::string& path, const std::string& line);

    std::mutex mutex_;
    std::condition_variable wake_, idle_;
    std::deque<std::pair<std::string, std::string>> lines_;
    std::size_t queued_ = 0;
    bool writing_ = false;
    bool stop_ = false;
    std::map<std::string, std::FILE*> files_;  // the writer thread's own
    std::thread thread_;
};

}  // namespace haineko::plugin
