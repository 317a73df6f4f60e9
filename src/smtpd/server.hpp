// The SMTP side of the runtime: each listener of smtp: (or --smtp) accepts connections on
// the event loops, runs a Session on each with the same policy as HTTP, reads and writes
// within the timeouts, guards the protocol's synchronization (talking before the greeting,
// sending ahead where PIPELINING does not allow it), and commits each message to the queue
// before it answers 250.
#pragma once
#include <memory>

#include "config/config.hpp"
#include "loops/runtime.hpp"

namespace haineko {

namespace queue {
class QueueService;
}

class SmtpServer {
public:
    // queue: where messages go (null: every message is answered 451).
    SmtpServer(Runtime& runtime, queue::QueueService* queue);
    ~SmtpServer();
    // Binds the listener (throws ListenError, or std::runtime_error for a TLS certificate
    // that cannot be used); returns the bound port.
    unsigned short listen(const SmtpListener& listener);

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace haineko
