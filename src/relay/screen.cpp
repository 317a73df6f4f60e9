// Screen: prints the message to standard error, for debugging.
#include <cstdio>
#include <mutex>

#include "relay/mailer.hpp"

namespace haineko {
namespace {

class ScreenMailer final : public Mailer {
public:
    boost::asio::awaitable<Reply> deliver(const Delivery& d) override {
        std::string text = d.message.for_recipient(d.rcpt);
        {
            // Loops on other threads may print at the same time; keep messages whole.
            static std::mutex stderr_mutex;
            std::lock_guard lock(stderr_mutex);
            std::fprintf(stderr, "----- Haineko Screen mailer: MAIL FROM:<%s> RCPT TO:<%s>\n", d.submission.mail.c_str(),
                         d.rcpt.c_str());
            std::fwrite(text.data(), 1, text.size(), stderr);
            std::fprintf(stderr, "----- end of message\n");
            std::fflush(stderr);
        }
        Reply r;
        r.code = 200;
        r.dsn = "2.0.0";
        r.command = "DATA";
        r.message = {"Printed to standard error"};
        co_return r;
    }
};

}  // namespace

std::unique_ptr<Mailer> make_screen_mailer() { return std::make_unique<ScreenMailer>(); }

}  // namespace haineko
