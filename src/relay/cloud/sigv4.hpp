// AWS Signature Version 4 for a request to one service in one region.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "core/digest.hpp"  // sha256_hex, for callers of the signature

namespace haineko::cloud {

struct SigV4Request {
    std::string method;                                        // "POST"
    std::string path;                                          // already URI-encoded, e.g. "/v2/email/outbound-emails"
    std::string query;                                         // "a=1&b=2", unsorted, already encoded; may be empty
    std::vector<std::pair<std::string, std::string>> headers;  // every header to sign, host and x-amz-date included
    std::string payload;
};

struct SigV4Signature {
    std::string canonical_request;
    std::string string_to_sign;
    std::string signature;      // hex
    std::string signed_headers; // "host;x-amz-date"
    std::string authorization;  // the Authorization header value
};

// amz_date: "20150830T123600Z"; the scope's date is its first eight characters.
SigV4Signature sign_v4(const SigV4Request& request, const std::string& access_key, const std::string& secret,
                       const std::string& region, const std::string& service, const std::string& amz_date);

std::string amz_date_now();

}  // namespace haineko::cloud
