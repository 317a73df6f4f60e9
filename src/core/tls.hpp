// TLS client contexts for every outbound connection (SMTP relays, HTTPS to another
// Haineko or a cloud): TLS 1.2 or later, the system's trust store (SSL_CERT_FILE and
// SSL_CERT_DIR work) plus an optional CA file. Verification is set per connection.
#pragma once
#include <boost/asio/ssl/context.hpp>

#include <map>
#include <memory>
#include <string>

namespace haineko {

// One loop's contexts by CA file. A reload forgets them, so that a changed CA file (or
// a renewed one under the same name) is read again; connections already open keep theirs.
class TlsContexts {
public:
    // The context for ca_file ("" for the system store alone). A CA file that cannot be
    // loaded is logged, and the system store alone is used.
    std::shared_ptr<boost::asio::ssl::context> client(const std::string& ca_file);
    void forget() { contexts_.clear(); }

private:
    std::map<std::string, std::shared_ptr<boost::asio::ssl::context>> contexts_;
};

}  // namespace haineko
