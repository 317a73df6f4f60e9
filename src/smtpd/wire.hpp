// One SMTP server connection's bytes: plain or TLS (implicit, or after STARTTLS), read in
// lines, DATA content and BDAT chunks, each within a deadline. What was read and not yet
// used stays buffered: it is the client's next pipelined command.
#pragma once
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "smtpd/data_reader.hpp"

namespace haineko::smtpd {

class Wire {
public:
    enum class Result { ok, closed, timed_out };
    struct Line {
        std::string text;  // without its line end
        bool too_long = false;
    };

    explicit Wire(boost::asio::ip::tcp::socket socket);
    ~Wire();

    boost::asio::ip::tcp::socket& socket() { return tls_ ? tls_->next_layer() : plain_; }

    // The server side of a TLS handshake on this connection (implicit TLS, or after the
    // STARTTLS answer). Whatever the client sent before it is dropped.
    boost::asio::awaitable<Result> start_tls(boost::asio::ssl::context& context, std::chrono::seconds limit);
    bool tls_active() const { return tls_.has_value(); }
    std::string tls_version() const;  // "TLSv1.3", or "" without TLS
    std::string tls_cipher() const;   // "TLS_AES_256_GCM_SHA384 (256/256 bits)"

    // True when the client sends anything within limit (it should be waiting for us).
    boost::asio::awaitable<bool> talks_within(std::chrono::milliseconds limit);
    // Bytes the client sent that we have not used yet, read or still in the socket.
    bool has_pending_input();
    // A whole command line is buffered (reading it will not wait).
    bool has_buffered_line() const;

    // One line ending in LF (a CR before it is removed). A line longer than max is read
    // to its end and given as too_long, with no text.
    boost::asio::awaitable<Result> read_line(Line& line, std::size_t max, std::chrono::seconds limit);
    // DATA content up to CRLF.CRLF.
    boost::asio::awaitable<Result> read_data(DataReader& reader, std::chrono::seconds limit);
    // A BDAT chunk of size octets; at most keep of them are kept in out, the rest read
    // and dropped (a chunk past the size limit is refused whole anyway).
    boost::asio::awaitable<Result> read_chunk(std::size_t size, std::size_t keep, std::string& out,
                                              std::chrono::seconds limit);
    boost::asio::awaitable<Result> write(std::string_view bytes, std::chrono::seconds limit);
    void cancel();  // a read in progress ends as closed (the server is stopping)
    void close();

private:
    boost::asio::awaitable<Result> fill(std::chrono::seconds limit);
    void arm(std::chrono::seconds limit);
    void compact();
    std::string_view buffered() const { return std::string_view(in_).substr(start_); }

    boost::asio::ip::tcp::socket plain_;
    std::optional<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> tls_;
    boost::asio::steady_timer timer_;
    // Shared with the timer's handler, which may already be queued when the wire goes:
    // it then finds gone set and touches nothing.
    struct Deadline {
        unsigned generation = 0;
        bool expired = false;
        bool gone = false;
    };
    std::shared_ptr<Deadline> deadline_ = std::make_shared<Deadline>();
    std::string in_;
    std::size_t start_ = 0;
};

}  // namespace haineko::smtpd
