// AWS's published Signature Version 4 test-suite vectors (aws-sig-v4-test-suite):
// credentials AKIDEXAMPLE, region us-east-1, service "service", 2015-08-30 12:36:00 UTC.
#include <gtest/gtest.h>

#include "relay/cloud/sigv4.hpp"

using haineko::cloud::sign_v4;
using haineko::cloud::SigV4Request;

namespace {

const std::string kKey = "AKIDEXAMPLE";
const std::string kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const std::string kDate = "20150830T123600Z";

SigV4Request vanilla(const std::string& method, const std::string& path = "/", const std::string& query = "") {
    return SigV4Request{method, path, query, {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", kDate}}, ""};
}

}  // namespace

TEST(SigV4, GetVanillaCanonicalRequestStringToSignAndSignature) {
    auto s = sign_v4(vanilla("GET"), kKey, kSecret, "us-east-1", "service", kDate);
    EXPECT_EQ(s.canonical_request,
              "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(s.string_to_sign,
              "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
              "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
    EXPECT_EQ(s.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    EXPECT_EQ(s.authorization,
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
              "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4, GetVanillaQueryOrderKeyCase) {
    auto s = sign_v4(vanilla("GET", "/", "Param2=value2&Param1=value1"), kKey, kSecret, "us-east-1", "service", kDate);
    EXPECT_NE(s.canonical_request.find("\nParam1=value1&Param2=value2\n"), std::string::npos);
    EXPECT_EQ(s.signature, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(SigV4, PostVanilla) {
    auto s = sign_v4(vanilla("POST"), kKey, kSecret, "us-east-1", "service", kDate);
    EXPECT_EQ(s.signature, "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

TEST(SigV4, GetUtf8Path) {
    auto s = sign_v4(vanilla("GET", "/%E1%88%B4"), kKey, kSecret, "us-east-1", "service", kDate);
    EXPECT_EQ(s.signature, "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85");
}

TEST(SigV4, HeaderNamesAreSortedAndLowerCasedAndValuesTrimmed) {
    SigV4Request r{"POST", "/x", "", {{"X-Amz-Date", kDate}, {"Content-Type", "  application/json  "}, {"Host", "h"}}, "{}"};
    auto s = sign_v4(r, kKey, kSecret, "eu-west-1", "ses", kDate);
    EXPECT_EQ(s.signed_headers, "content-type;host;x-amz-date");
    EXPECT_NE(s.canonical_request.find("content-type:application/json\n"), std::string::npos);
    EXPECT_NE(s.authorization.find("/20150830/eu-west-1/ses/aws4_request"), std::string::npos);
}
