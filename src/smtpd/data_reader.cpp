#include "smtpd/data_reader.hpp"

namespace haineko::smtpd {

void DataReader::append(std::string_view bytes) {
    size_ += bytes.size();
    if (max_size_ != 0 && size_ > max_size_) too_large_ = true;
    if (!too_large_) message_.append(bytes);
}

void DataReader::step(char c) {
    switch (state_) {
    case State::after_cr:
        if (c == '\n') {
            append("\r\n");
            state_ = State::line_start;
            return;
        }
        bare_ = true;  // a CR not followed by LF
        append("\r");
        state_ = State::in_line;
        break;  // c itself is read below
    case State::after_dot:
        if (c == '\r') {
            state_ = State::after_dot_cr;
            return;
        }
        state_ = State::in_line;  // the leading dot is dropped; c is read below
        break;
    case State::after_dot_cr:
        if (c == '\n') {
            state_ = State::done;
            return;
        }
        bare_ = true;  // ".", CR, then not LF: the dot was a leading one
        append("\r");
        state_ = State::in_line;
        break;
    case State::line_start:
        if (c == '.') {
            state_ = State::after_dot;
            return;
        }
        state_ = State::in_line;
        break;
    case State::in_line:
    case State::done:
        break;
    }
    if (c == '\r') {
        state_ = State::after_cr;
    } else {
        if (c == '\n') bare_ = true;  // an LF without its CR: not a line end
        append(std::string_view(&c, 1));
    }
}

std::size_t DataReader::feed(std::string_view bytes) {
    std::size_t used = 0;
    while (used < bytes.size() && state_ != State::done) {
        // The common case, a run of ordinary bytes inside a line, is taken whole.
        if (state_ == State::in_line) {
            std::size_t run = used;
            while (run < bytes.size() && bytes[run] != '\r' && bytes[run] != '\n') ++run;
            if (run > used) {
                append(bytes.substr(used, run - used));
                used = run;
                continue;
            }
        }
        step(bytes[used++]);
    }
    return used;
}

}  // namespace haineko::smtpd
