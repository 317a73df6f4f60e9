// The content of DATA as it arrives (RFC 5321 4.1.1.4, 4.5.2). It ends only at
// CRLF "." CRLF; a line that starts with "." loses that dot. A bare CR or a bare LF (one
// that is not part of CRLF) is never a line end here, so "\n.\n" and "\r.\r" end nothing:
// the reader notes it, reads on to the real end, and the server refuses the whole
// transaction (the SMTP smuggling of CVE-2023-51764 needs a receiver that takes one of
// them for a line end). Bytes may come in any pieces; what follows the end is not taken
// (it is the next pipelined command).
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace haineko::smtpd {

class DataReader {
public:
    // max_size: the largest message kept (0: no limit); past it, bytes are counted only.
    explicit DataReader(std::size_t max_size = 0) : max_size_(max_size) {}

    // Takes bytes until the end of the data; returns how many it used.
    std::size_t feed(std::string_view bytes);

    bool done() const { return state_ == State::done; }
    bool bare_line_end() const { return bare_; }  // a lone CR or LF was seen
    bool too_large() const { return too_large_; }
    // CRLF lines, dots removed, without the final "." CRLF; partial when too_large().
    const std::string& message() const { return message_; }
    // Octets of the message after unstuffing, kept or not.
    std::size_t size() const { return size_; }

private:
    enum class State { line_start, in_line, after_cr, after_dot, after_dot_cr, done };
    void append(std::string_view bytes);
    void step(char c);

    std::size_t max_size_;
    State state_ = State::line_start;
    bool bare_ = false;
    bool too_large_ = false;
    std::size_t size_ = 0;
    std::string message_;
};

}  // namespace haineko::smtpd
