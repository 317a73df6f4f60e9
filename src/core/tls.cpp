#include "core/tls.hpp"

#include <spdlog/spdlog.h>

namespace haineko {
namespace {

std::shared_ptr<boost::asio::ssl::context> make_client_context(const std::string& ca_file) {
    namespace ssl = boost::asio::ssl;
    auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
    context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                         ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    context->set_default_verify_paths();
    if (!ca_file.empty()) {
        boost::system::error_code ec;
        context->load_verify_file(ca_file, ec);
        if (ec) spdlog::error("tls_ca_file {} could not be loaded: {}", ca_file, ec.message());
    }
    return context;
}

}  // namespace

std::shared_ptr<boost::asio::ssl::context> TlsContexts::client(const std::string& ca_file) {
    std::lock_guard lock(mutex_);
    auto& slot = contexts_[ca_file];
    if (!slot) slot = make_client_context(ca_file);
    return slot;
}

void TlsContexts::preload(const std::string& ca_file) {
    std::map<std::string, std::shared_ptr<boost::asio::ssl::context>> fresh;
    fresh[""] = make_client_context("");
    if (!ca_file.empty()) fresh[ca_file] = make_client_context(ca_file);
    std::lock_guard lock(mutex_);
    contexts_ = std::move(fresh);
}

}  // namespace haineko
