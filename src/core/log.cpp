#include "core/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <syslog.h>

#include <map>

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

void configure_logging(const Config& config) {
    std::vector<spdlog::sink_ptr> sinks{std::make_shared<spdlog::sinks::stderr_sink_mt>()};
    if (config.smtpd.syslog_enabled)
        sinks.push_back(std::make_shared<spdlog::sinks::syslog_sink_mt>(
            "haineko", LOG_PID, facility_of(config.smtpd.syslog_facility), false));
    auto logger = std::make_shared<spdlog::logger>("haineko", sinks.begin(), sinks.end());
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z haineko[%P] %l: %v");
    logger->set_level(config.options.devel ? spdlog::level::debug : spdlog::level::info);
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
}

}  // namespace haineko
