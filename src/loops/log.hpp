// Logs go to standard error and, when haineko.cf enables it, to syslog with the configured
// facility. Nothing secret is ever passed to a logger: no passwords, keys or auth headers.
//
// Lines written on an event loop are gathered and written together once the loop has run
// what was ready (one write for many lines under load, at once when idle); warnings,
// errors and lines from other threads are written at once.
#pragma once
#include <boost/asio/io_context.hpp>

namespace haineko {
struct Config;
void configure_logging(const Config& config);
// Called on each event loop's thread before it runs: its lines go out in batches.
// Called with nullptr when the loop has stopped: lines go out at once again.
void batch_log_lines_on(boost::asio::io_context* loop);
// Writes whatever is gathered (at shutdown).
void flush_log();
}  // namespace haineko
