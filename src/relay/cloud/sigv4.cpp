#include "relay/cloud/sigv4.hpp"

#include "core/digest.hpp"
#include "core/text.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <ctime>

namespace haineko::cloud {
namespace {

// Header values: trimmed, inner runs of spaces folded to one.
std::string canonical_value(const std::string& v) {
    std::string out;
    bool space = false;
    for (char c : v) {
        if (c == ' ' || c == '\t') {
            space = !out.empty();
            continue;
        }
        if (space) out += ' ';
        space = false;
        out += c;
    }
    return out;
}

std::string canonical_query(const std::string& query) {
    if (query.empty()) return {};
    std::vector<std::pair<std::string, std::string>> params;
    std::size_t pos = 0;
    while (pos <= query.size()) {
        std::size_t amp = query.find('&', pos);
        std::string pair = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
        if (!pair.empty()) {
            std::size_t eq = pair.find('=');
            params.emplace_back(pair.substr(0, eq), eq == std::string::npos ? "" : pair.substr(eq + 1));
        }
        if (amp == std::string::npos) break;
        pos = amp + 1;
    }
    std::sort(params.begin(), params.end());
    std::string out;
    for (const auto& [k, v] : params) out += (out.empty() ? "" : "&") + k + "=" + v;
    return out;
}

}  // namespace

std::string amz_date_now() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    return buf;
}

SigV4Signature sign_v4(const SigV4Request& request, const std::string& access_key, const std::string& secret,
                       const std::string& region, const std::string& service, const std::string& amz_date) {
    std::vector<std::pair<std::string, std::string>> headers;
    for (const auto& [name, value] : request.headers) headers.emplace_back(to_lower(name), canonical_value(value));
    std::sort(headers.begin(), headers.end());
    std::string canonical_headers, signed_headers;
    for (std::size_t i = 0; i < headers.size(); ++i) {
        // Repeated names join their values with commas, in order.
        if (i > 0 && headers[i].first == headers[i - 1].first) {
            canonical_headers.insert(canonical_headers.size() - 1, "," + headers[i].second);
            continue;
        }
        canonical_headers += headers[i].first + ":" + headers[i].second + "\n";
        signed_headers += (signed_headers.empty() ? "" : ";") + headers[i].first;
    }
    SigV4Signature out;
    out.signed_headers = signed_headers;
    out.canonical_request = request.method + "\n" + (request.path.empty() ? "/" : request.path) + "\n" +
                            canonical_query(request.query) + "\n" + canonical_headers + "\n" + signed_headers + "\n" +
                            sha256_hex(request.payload);
    const std::string date = amz_date.substr(0, 8);
    const std::string scope = date + "/" + region + "/" + service + "/aws4_request";
    out.string_to_sign = "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" + sha256_hex(out.canonical_request);
    std::string key = hmac_sha256("AWS4" + secret, date);
    key = hmac_sha256(key, region);
    key = hmac_sha256(key, service);
    key = hmac_sha256(key, "aws4_request");
    std::string mac = hmac_sha256(key, out.string_to_sign);
    out.signature = hex_of(mac);
    out.authorization = "AWS4-HMAC-SHA256 Credential=" + access_key + "/" + scope +
                        ", SignedHeaders=" + signed_headers + ", Signature=" + out.signature;
    return out;
}

}  // namespace haineko::cloud
