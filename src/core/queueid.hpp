#pragma once
#include <chrono>
#include <string>

namespace haineko {
// A 16-character queue id in the original's shape: year, month, day, hour, minute and
// second as base-62 digits, then random characters, so ids sort roughly by time.
std::string make_queueid(std::chrono::system_clock::time_point now);
}  // namespace haineko
