#include "loops/log.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <map>
#include <mutex>

#include "config/config.hpp"

namespace haineko {
namespace {

int facility_of(const std::string& name) {
    static const std::map<std::string, int> facilities{
        {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3},
        {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
        {"mail", LOG_MAIL},     {"user", LOG_USER},     {"daemon", LOG_DAEMON},
    };
    auto it = facilities.find(name);
    return it == facilities.end() ? LOG_LOCAL2 : it->second;
}

// How this thread's loop is asked to write the gathered lines; empty off the loops.
thread_local std::function<void()> schedule_flush;

class BatchedStderrSink final : public spdlog::sinks::base_sink<std::mutex> {
protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        spdlog::memory_buf_t line;
        formatter_->format(msg, line);
        pending_.append(line.data(), line.size());
        if (msg.level >= spdlog::level::warn || !schedule_flush || pending_.size() > (64u << 10)) {
            write_pending();
        } else if (!scheduled_) {
            scheduled_ = true;
            schedule_flush();
        }
    }
    void flush_() override { write_pending(); }

private:
    void write_pending() {
        scheduled_ = false;
        std::size_t done = 0;
        while (done < pending_.size()) {
            ssize_t n = ::write(STDERR_FILENO, pending_.data() + done, pending_.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;  // nowhere to write: drop rather than block the loop
            done += static_cast<std::size_t>(n);
        }
        pending_.clear();
    }

    std::string pending_;
    bool scheduled_ = false;
};

}  // namespace

// The logger is made once and never replaced: other threads log through it at any time.
// A reload changes only its level and the syslog sink, inside a dist_sink that locks.
void configure_logging(const Config& config) {
    static std::shared_ptr<spdlog::sinks::dist_sink_mt> optional_sinks;
    static std::once_flag made;
    std::call_once(made, [] {
        optional_sinks = std::make_shared<spdlog::sinks::dist_sink_mt>();
        std::vector<spdlog::sink_ptr> sinks{std::make_shared<BatchedStderrSink>(), optional_sinks};
        auto logger = std::make_shared<spdlog::logger>("haineko", sinks.begin(), sinks.end());
        // The pid is written in once: made after any fork, this is the server's.
        logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z haineko[" + std::to_string(::getpid()) + "] %l: %v");
        spdlog::set_default_logger(logger);
    });
    std::vector<spdlog::sink_ptr> extra;
    if (config.smtpd.syslog_enabled) {
        auto syslog = std::make_shared<spdlog::sinks::syslog_sink_mt>("haineko", LOG_PID,
                                                                      facility_of(config.smtpd.syslog_facility), false);
        syslog->set_pattern("%v");
        extra.push_back(std::move(syslog));
    }
    optional_sinks->set_sinks(std::move(extra));
    spdlog::default_logger_raw()->set_level(config.options.devel ? spdlog::level::debug : spdlog::level::info);
}

void batch_log_lines_on(boost::asio::io_context* loop) {
    flush_log();
    if (loop)
        schedule_flush = [loop] { boost::asio::post(*loop, [] { flush_log(); }); };
    else
        schedule_flush = nullptr;
}

void flush_log() { spdlog::default_logger_raw()->flush(); }

}  // namespace haineko
