#include "core/tls.hpp"

#include <spdlog/spdlog.h>

namespace haineko {

std::shared_ptr<boost::asio::ssl::context> TlsContexts::client(const std::string& ca_file) {
    namespace ssl = boost::asio::ssl;
    auto& slot = contexts_[ca_file];
    if (!slot) {
        slot = std::make_shared<ssl::context>(ssl::context::tls_client);
        slot->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                          ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
        slot->set_default_verify_paths();
        if (!ca_file.empty()) {
            boost::system::error_code ec;
            slot->load_verify_file(ca_file, ec);
            if (ec) spdlog::error("tls_ca_file {} could not be loaded: {}", ca_file, ec.message());
        }
    }
    return slot;
}

}  // namespace haineko
