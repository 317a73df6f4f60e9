#include "core/queueid.hpp"

#include <ctime>
#include <random>
#include <string_view>

namespace haineko {

std::string make_queueid(std::chrono::system_clock::time_point now) {
    static constexpr std::string_view chars =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::time_t t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    localtime_r(&t, &tm);
    std::string id;
    id.reserve(16);
    id += chars[(tm.tm_year + 1900) % 60];
    id += chars[tm.tm_mon];
    id += chars[tm.tm_mday];
    id += chars[tm.tm_hour];
    id += chars[tm.tm_min];
    id += chars[tm.tm_sec % 60];
    std::uniform_int_distribution<size_t> pick(0, chars.size() - 1);
    while (id.size() < 16) id += chars[pick(rng)];
    return id;
}

}  // namespace haineko
