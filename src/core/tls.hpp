// TLS client contexts for every outbound connection (SMTP relays, HTTPS to another
// Haineko or a cloud): TLS 1.2 or later, the system's trust store (SSL_CERT_FILE and
// SSL_CERT_DIR work) plus an optional CA file. Verification is set per connection.
#pragma once
#include <boost/asio/ssl/context.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace haineko {

// The process's contexts by CA file, shared by every loop (an SSL_CTX may make
// connections on several threads). Loading the trust store takes milliseconds, so
// preload() does it off the loops at start and at each reload; a reload replaces the
// contexts, and connections already open keep theirs.
class TlsContexts {
public:
    // The context for ca_file ("" for the system store alone), made now if it was not
    // preloaded. A CA file that cannot be loaded is logged, and the system store is used.
    std::shared_ptr<boost::asio::ssl::context> client(const std::string& ca_file);
    // Makes the contexts for the system store and for ca_file, then puts them in place of
    // the old ones.
    void preload(const std::string& ca_file);

private:
    std::mutex mutex_;
    std::map<std::string, std::shared_ptr<boost::asio::ssl::context>> contexts_;
};

// A server context (the SMTP listener's STARTTLS and implicit TLS): TLS 1.2 or later, the
// certificate chain and key from PEM files. Throws std::runtime_error naming the file that
// could not be used.
std::shared_ptr<boost::asio::ssl::context> server_tls_context(const std::string& cert_file,
                                                              const std::string& key_file);

}  // namespace haineko
