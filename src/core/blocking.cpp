#include "core/blocking.hpp"

namespace haineko {

// Most of these threads wait on the disk, not the CPU: the more fsyncs are under way at
// once, the more of them one journal commit of the file system settles.
boost::asio::thread_pool& blocking_pool() {
    static boost::asio::thread_pool pool(16);
    return pool;
}

}  // namespace haineko
