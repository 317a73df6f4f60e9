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

std::shared_ptr<boost::asio::ssl::context> server_tls_context(const std::string& cert_file,
                                                              const std::string& key_file) {
    namespace ssl = boost::asio::ssl;
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    boost::system::error_code ec;
    ctx->use_certificate_chain_file(cert_file, ec);
    if (ec) throw std::runtime_error("cannot use the TLS certificate " + cert_file + ": " + ec.message());
    ctx->use_private_key_file(key_file, ssl::context::pem, ec);
    if (ec) throw std::runtime_error("cannot use the TLS key " + key_file + ": " + ec.message());
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
        throw std::runtime_error("the TLS key " + key_file + " does not match the certificate " + cert_file);
    return ctx;
}

}  // namespace haineko
