#include "core/log.hpp"

#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <syslog.h>

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

}  // namespace

// The logger is made once and never replaced: other threads log through it at any time.
// A reload changes only its level and the syslog sink, inside a dist_sink that locks.
void configure_logging(const Config& config) {
    static std::shared_ptr<spdlog::sinks::dist_sink_mt> optional_sinks;
    static std::once_flag made;
    std::call_once(made, [] {
        optional_sinks = std::make_shared<spdlog::sinks::dist_sink_mt>();
        std::vector<spdlog::sink_ptr> sinks{std::make_shared<spdlog::sinks::stderr_sink_mt>(), optional_sinks};
        auto logger = std::make_shared<spdlog::logger>("haineko", sinks.begin(), sinks.end());
        logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z haineko[%P] %l: %v");
        logger->flush_on(spdlog::level::info);
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

}  // namespace haineko
