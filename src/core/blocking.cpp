#include "core/blocking.hpp"

#include <pthread.h>
#include <signal.h>

namespace haineko {
namespace {

// The pool's threads never take the stop and reload signals: those are the event loop's
// (loops/runtime.cpp), and a pool thread that took one after the loop's signal set is gone
// would die of it. Threads start with their creator's mask, so it is blocked around their
// start.
struct Pool {
    struct Blocked {
        sigset_t old;
        Blocked() {
            sigset_t set;
            sigemptyset(&set);
            for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
            pthread_sigmask(SIG_BLOCK, &set, &old);
        }
        void restore() { pthread_sigmask(SIG_SETMASK, &old, nullptr); }
    } blocked;
    // Most of these threads wait on the disk, not the CPU: the more fsyncs are under way at
    // once, the more of them one journal commit of the file system settles.
    boost::asio::thread_pool threads{16};
    Pool() { blocked.restore(); }
};

}  // namespace

boost::asio::thread_pool& blocking_pool() {
    static Pool pool;
    return pool.threads;
}

}  // namespace haineko
