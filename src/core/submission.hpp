// The one shape every intake produces: envelope, headers, body and client facts.
#pragma once
#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace haineko {

struct ClientFacts {
    std::string address;  // after trusted-proxy X-Forwarded-For handling
    int port = 0;
    std::string useragent;
    std::string referer;
    std::string user;  // Basic-auth user, empty when anonymous
};

struct HeaderFields {
    std::string from;
    std::string replyto;
    std::string subject;
    std::string charset = "UTF-8";
    std::vector<std::string> loop;      // X-Haineko-Loop hosts, this server last
    std::vector<std::string> received;  // Received values carried through
};

struct Submission {
    std::string queueid;
    std::chrono::system_clock::time_point started;
    ClientFacts client;
    std::string ehlo;
    std::string mail;
    std::vector<std::string> rcpt;  // accepted recipients only
    HeaderFields header;
    std::string body;  // UTF-8, as posted
};

// The trace fields every message Haineko sends on carries, in their order: X-Mailer (the
// client's User-Agent), X-SMTP-Engine, X-HTTP-Referer, X-Haineko-Loop (the hops, this
// server last) and X-Originating-IP. Empty User-Agent and Referer are left out. The
// message builder writes them as headers; the cloud mailers pass them as custom headers.
std::vector<std::pair<std::string, std::string>> trace_headers(const Submission& s);

}  // namespace haineko
