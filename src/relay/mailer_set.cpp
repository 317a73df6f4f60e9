#include "relay/mailer.hpp"

namespace haineko {

MailerSet::MailerSet(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {
    mailers_["Discard"] = make_discard_mailer();
    mailers_["Screen"] = make_screen_mailer();
    mailers_["File"] = make_file_mailer();
}

MailerSet::~MailerSet() = default;

Mailer* MailerSet::find(const std::string& name) {
    auto it = mailers_.find(name);
    return it == mailers_.end() ? nullptr : it->second.get();
}

}  // namespace haineko
