// How many relay sessions a loop holds to one host, for /metrics.
#pragma once
#include <cstddef>

namespace haineko::smtp {

struct HostSessions {
    std::size_t open = 0;  // greeted and usable, busy or idle
    std::size_t idle = 0;  // of those, waiting for a message
};

}  // namespace haineko::smtp
