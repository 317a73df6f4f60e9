#include <gtest/gtest.h>

#include "http/relaxed_json.hpp"

using namespace haineko;

namespace {
std::string nested_arrays(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }
std::string nested_objects(int depth) {
    std::string s;
    for (int i = 0; i < depth; ++i) s += "{\"a\":";
    s += "1";
    s += std::string(depth, '}');
    return s;
}
}  // namespace

TEST(RelaxedJson, StrictJson) {
    auto v = parse_request_json(R"({"ehlo":"example.jp","rcpt":["a@example.jp","b@example.jp"],"n":4,"t":true,"z":null})");
    ASSERT_TRUE(v);
    ASSERT_TRUE(v->is_object());
    const auto& o = v->as_object();
    EXPECT_EQ(o.at("ehlo").as_string(), "example.jp");
    EXPECT_EQ(o.at("rcpt").as_array().size(), 2u);
    EXPECT_EQ(o.at("n").as_int64(), 4);
    EXPECT_TRUE(o.at("t").as_bool());
    EXPECT_TRUE(o.at("z").is_null());
}

TEST(RelaxedJson, UnicodeEscapesAreDecoded) {
    auto v = parse_request_json(R"({"subject":"\u732b\ud83d\udc31 \"q\" \\ \n"})");
    ASSERT_TRUE(v);
    EXPECT_EQ(v->as_object().at("subject").as_string(), "\xe7\x8c\xab\xf0\x9f\x90\xb1 \"q\" \\ \n");
}

TEST(RelaxedJson, UnquotedKeys) {
    auto v = parse_request_json(
        "{ ehlo: \"client.example.net\", mail: \"s@example.org\", rcpt: [\"a@example.jp\"], "
        "header: { from: \"S <s@example.org>\", subject: \"hi\" }, body: \"text\" }");
    ASSERT_TRUE(v);
    const auto& o = v->as_object();
    EXPECT_EQ(o.at("ehlo").as_string(), "client.example.net");
    EXPECT_EQ(o.at("mail").as_string(), "s@example.org");
    EXPECT_EQ(o.at("rcpt").as_array().at(0).as_string(), "a@example.jp");
    EXPECT_EQ(o.at("header").as_object().at("from").as_string(), "S <s@example.org>");
    EXPECT_EQ(o.at("body").as_string(), "text");
}

TEST(RelaxedJson, BareWordValuesAndLiterals) {
    auto v = parse_request_json("{ehlo: client.example.net, mail: s@example.org, n: 12, f: -1.5, t: true, z: null}");
    ASSERT_TRUE(v);
    const auto& o = v->as_object();
    EXPECT_EQ(o.at("ehlo").as_string(), "client.example.net");
    EXPECT_EQ(o.at("mail").as_string(), "s@example.org");
    EXPECT_EQ(o.at("n").as_int64(), 12);
    EXPECT_DOUBLE_EQ(o.at("f").as_double(), -1.5);
    EXPECT_TRUE(o.at("t").as_bool());
    EXPECT_TRUE(o.at("z").is_null());
}

TEST(RelaxedJson, SingleQuotes) {
    auto v = parse_request_json(R"({'mail': 'it\'s "me"@example.org', 'body': 'a\nb'})");
    ASSERT_TRUE(v);
    const auto& o = v->as_object();
    EXPECT_EQ(o.at("mail").as_string(), "it's \"me\"@example.org");
    EXPECT_EQ(o.at("body").as_string(), "a\nb");
}

TEST(RelaxedJson, CommentsAndTrailingCommas) {
    auto v = parse_request_json(
        "// a line comment\n{ /* block */ rcpt: ['a@example.jp', 'b@example.jp',], // trailing\n body: 'x', }");
    ASSERT_TRUE(v);
    const auto& o = v->as_object();
    EXPECT_EQ(o.at("rcpt").as_array().size(), 2u);
    EXPECT_EQ(o.at("body").as_string(), "x");
    auto strict = parse_request_json("{\"a\":1, /* c */ \"b\":[1,2,],}");
    ASSERT_TRUE(strict);
    EXPECT_EQ(strict->as_object().at("b").as_array().size(), 2u);
}

TEST(RelaxedJson, CommentMarkersInsideStringsAreText) {
    auto v = parse_request_json("{body: 'see http://example.jp/ /* not a comment */'}");
    ASSERT_TRUE(v);
    EXPECT_EQ(v->as_object().at("body").as_string(), "see http://example.jp/ /* not a comment */");
}

TEST(RelaxedJson, InvalidUtf8Rejected) {
    EXPECT_FALSE(parse_request_json("{\"body\":\"caf\xe9\"}"));
    EXPECT_FALSE(parse_request_json("{body:'caf\xe9'}"));
    EXPECT_FALSE(parse_request_json("{body:caf\xe9}"));
    EXPECT_FALSE(parse_request_json("{\"body\":\"\xed\xa0\x80\"}"));  // an encoded surrogate
    EXPECT_FALSE(parse_request_json("{\"body\":\"\xc0\xaf\"}"));      // an overlong form
    EXPECT_TRUE(parse_request_json("{\"body\":\"caf\xc3\xa9\"}"));
}

TEST(RelaxedJson, DepthLimit) {
    EXPECT_TRUE(parse_request_json(nested_arrays(kMaxJsonDepth)));
    EXPECT_FALSE(parse_request_json(nested_arrays(kMaxJsonDepth + 1)));
    EXPECT_FALSE(parse_request_json(nested_arrays(5000)));
    EXPECT_TRUE(parse_request_json(nested_objects(kMaxJsonDepth)));
    EXPECT_FALSE(parse_request_json(nested_objects(kMaxJsonDepth + 1)));
    // the relaxed path keeps the limit too
    std::string relaxed;
    for (int i = 0; i < kMaxJsonDepth + 1; ++i) relaxed += "{a:";
    relaxed += "1" + std::string(kMaxJsonDepth + 1, '}');
    EXPECT_FALSE(parse_request_json(relaxed));
}

TEST(RelaxedJson, GarbageRejected) {
    EXPECT_FALSE(parse_request_json(""));
    EXPECT_FALSE(parse_request_json("   "));
    EXPECT_FALSE(parse_request_json("{"));
    EXPECT_FALSE(parse_request_json("}"));
    EXPECT_FALSE(parse_request_json("{ehlo}"));
    EXPECT_FALSE(parse_request_json("{ehlo: }"));
    EXPECT_FALSE(parse_request_json("{ehlo: a b}"));
    EXPECT_FALSE(parse_request_json("this is not json"));
    EXPECT_FALSE(parse_request_json("{\"a\":1} trailing"));
    EXPECT_FALSE(parse_request_json("{\"a\":1}{\"b\":2}"));
    EXPECT_FALSE(parse_request_json("{'unterminated: 1}"));
    EXPECT_FALSE(parse_request_json("{\"unterminated: 1}"));
    EXPECT_FALSE(parse_request_json("{a:1,,b:2}"));
    EXPECT_FALSE(parse_request_json(std::string("{\"a\":\"x\0y\"}", 11)));
    EXPECT_FALSE(parse_request_json("\x01\x02\x03"));
}

TEST(RelaxedJson, RelaxedToStrictRewrite) {
    EXPECT_EQ(relaxed_to_strict("{a: 'b'}"), "{\"a\": \"b\"}");
    EXPECT_EQ(relaxed_to_strict("{a: 1, b: true, c: null}"), "{\"a\": 1, \"b\": true, \"c\": null}");
    EXPECT_EQ(relaxed_to_strict("{\"a\": \"it's\"}"), "{\"a\": \"it's\"}");
    EXPECT_EQ(relaxed_to_strict("['x\"y']"), "[\"x\\\"y\"]");
}
