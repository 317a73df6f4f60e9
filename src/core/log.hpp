// Logs go to standard error and, when haineko.cf enables it, to syslog with the configured
// facility. Nothing secret is ever passed to a logger: no passwords, keys or auth headers.
#pragma once

namespace haineko {
struct Config;
void configure_logging(const Config& config);
}  // namespace haineko
