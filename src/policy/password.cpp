#include "policy/password.hpp"

#include "core/base64.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cctype>
#include <stdexcept>
#include <vector>

namespace haineko {
namespace {

const EVP_MD* digest_for(std::string_view scheme) {
    if (scheme == "SSHA") return EVP_sha1();
    if (scheme == "SSHA256") return EVP_sha256();
    if (scheme == "SSHA512") return EVP_sha512();
    return nullptr;
}

std::string digest(const EVP_MD* md, std::string_view a, std::string_view b) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, md, nullptr);
    EVP_DigestUpdate(ctx, a.data(), a.size());
    EVP_DigestUpdate(ctx, b.data(), b.size());
    EVP_DigestFinal_ex(ctx, out, &len);
    EVP_MD_CTX_free(ctx);
    return std::string(reinterpret_cast<char*>(out), len);
}

}  // namespace

bool verify_password(std::string_view stored, std::string_view password) {
    if (stored.size() < 3 || stored.front() != '{') return false;
    auto close = stored.find('}');
    if (close == std::string_view::npos) return false;
    const EVP_MD* md = digest_for(stored.substr(1, close - 1));
    if (!md) return false;
    auto raw = base64_decode(stored.substr(close + 1));
    size_t dlen = static_cast<size_t>(EVP_MD_get_size(md));
    if (!raw || raw->size() <= dlen) return false;
    std::string_view expected(raw->data(), dlen), salt(raw->data() + dlen, raw->size() - dlen);
    std::string actual = digest(md, password, salt);
    return CRYPTO_memcmp(actual.data(), expected.data(), dlen) == 0;
}

std::string hash_password_with_salt(std::string_view password, std::string_view scheme,
                                    std::string_view salt) {
    const EVP_MD* md = digest_for(scheme);
    if (!md) throw std::invalid_argument("unknown password scheme: " + std::string(scheme));
    return "{" + std::string(scheme) + "}" + base64_encode(digest(md, password, salt) + std::string(salt));
}

std::string hash_password(std::string_view password, std::string_view scheme) {
    std::string salt(8, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), static_cast<int>(salt.size())) != 1)
        throw std::runtime_error("no random bytes for a salt");
    return hash_password_with_salt(password, scheme, salt);
}

}  // namespace haineko
