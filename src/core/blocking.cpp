#include "core/blocking.hpp"

namespace haineko {

boost::asio::thread_pool& blocking_pool() {
    static boost::asio::thread_pool pool(4);
    return pool;
}

}  // namespace haineko
