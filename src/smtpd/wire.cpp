#include "smtpd/wire.hpp"

#include <openssl/ssl.h>

namespace haineko::smtpd {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadPiece = 16 * 1024;
}  // namespace

Wire::Wire(tcp::socket socket) : plain_(std::move(socket)), timer_(plain_.get_executor()) {}

Wire::~Wire() { deadline_->gone = true; }

// A deadline cancels the read or write in progress rather than closing the socket, so
// that the 421 can still be written.
void Wire::arm(std::chrono::seconds limit) {
    deadline_->expired = false;
    timer_.expires_after(limit);
    timer_.async_wait([this, d = deadline_, generation = ++deadline_->generation](boost::system::error_code ec) {
        if (ec || d->gone || generation != d->generation) return;
        d->expired = true;
        socket().cancel(ec);
    });
}

void Wire::cancel() {
    boost::system::error_code ec;
    socket().cancel(ec);
}

void Wire::close() {
    ++deadline_->generation;
    timer_.cancel();
    boost::system::error_code ec;
    socket().shutdown(tcp::socket::shutdown_both, ec);
    socket().close(ec);
}

void Wire::compact() {
    if (start_ == in_.size()) {
        in_.clear();
        start_ = 0;
    } else if (start_ > kReadPiece) {
        in_.erase(0, start_);
        start_ = 0;
    }
}

asio::awaitable<Wire::Result> Wire::fill(std::chrono::seconds limit) {
    compact();
    const std::size_t had = in_.size();
    in_.resize(had + kReadPiece);
    arm(limit);
    auto buffer = asio::buffer(in_.data() + had, kReadPiece);
    boost::system::error_code ec;
    std::size_t n = 0;
    if (tls_)
        std::tie(ec, n) = co_await tls_->async_read_some(buffer, use_tuple);
    else
        std::tie(ec, n) = co_await plain_.async_read_some(buffer, use_tuple);
    ++deadline_->generation;
    timer_.cancel();
    in_.resize(had + n);
    if (n > 0) co_return Result::ok;
    co_return deadline_->expired ? Result::timed_out : Result::closed;
}

asio::awaitable<Wire::Result> Wire::start_tls(asio::ssl::context& context, std::chrono::seconds limit) {
    in_.clear();
    start_ = 0;
    tls_.emplace(std::move(plain_), context);
    arm(limit);
    auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::server, use_tuple);
    ++deadline_->generation;
    timer_.cancel();
    if (!ec) co_return Result::ok;
    co_return deadline_->expired ? Result::timed_out : Result::closed;
}

std::string Wire::tls_version() const {
    if (!tls_) return "";
    return SSL_get_version(const_cast<asio::ssl::stream<tcp::socket>&>(*tls_).native_handle());
}

std::string Wire::tls_cipher() const {
    if (!tls_) return "";
    SSL* ssl = const_cast<asio::ssl::stream<tcp::socket>&>(*tls_).native_handle();
    const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
    if (!cipher) return "";
    int alg = 0;
    const int bits = SSL_CIPHER_get_bits(cipher, &alg);
    return std::string(SSL_CIPHER_get_name(cipher)) + " (" + std::to_string(bits) + "/" + std::to_string(alg) + " bits)";
}

asio::awaitable<bool> Wire::talks_within(std::chrono::milliseconds limit) {
    if (has_pending_input()) co_return true;
    if (limit.count() == 0) co_return false;
    asio::steady_timer pause(plain_.get_executor());
    pause.expires_after(limit);
    co_await pause.async_wait(use_tuple);
    co_return has_pending_input();
}

bool Wire::has_pending_input() {
    if (start_ < in_.size()) return true;
    boost::system::error_code ec;
    if (tls_ && SSL_pending(tls_->native_handle()) > 0) return true;
    return socket().available(ec) > 0 && !ec;
}

bool Wire::has_buffered_line() const { return buffered().find('\n') != std::string_view::npos; }

asio::awaitable<Wire::Result> Wire::read_line(Line& line, std::size_t max, std::chrono::seconds limit) {
    line = Line{};
    bool dropping = false;  // past max: read to the line's end, keep nothing
    for (;;) {
        const std::string_view have = buffered();
        const std::size_t lf = have.find('\n');
        if (lf != std::string_view::npos) {
            if (!dropping && lf + 1 <= max) {
                std::string_view text = have.substr(0, lf);
                if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
                line.text = std::string(text);
            } else {
                line.too_long = true;
            }
            start_ += lf + 1;
            co_return Result::ok;
        }
        if (have.size() > max) {
            dropping = true;
            start_ = in_.size();
        }
        const Result r = co_await fill(limit);
        if (r != Result::ok) co_return r;
    }
}

asio::awaitable<Wire::Result> Wire::read_data(DataReader& reader, std::chrono::seconds limit) {
    for (;;) {
        start_ += reader.feed(buffered());
        if (reader.done()) co_return Result::ok;
        const Result r = co_await fill(limit);
        if (r != Result::ok) co_return r;
    }
}

asio::awaitable<Wire::Result> Wire::read_chunk(std::size_t size, std::size_t keep, std::string& out,
                                               std::chrono::seconds limit) {
    out.clear();
    std::size_t left = size;
    for (;;) {
        const std::string_view have = buffered().substr(0, left);
        if (out.size() < keep) out.append(have.substr(0, keep - out.size()));
        start_ += have.size();
        left -= have.size();
        if (left == 0) co_return Result::ok;
        const Result r = co_await fill(limit);
        if (r != Result::ok) co_return r;
    }
}

asio::awaitable<Wire::Result> Wire::write(std::string_view bytes, std::chrono::seconds limit) {
    if (bytes.empty()) co_return Result::ok;
    arm(limit);
    boost::system::error_code ec;
    if (tls_)
        std::tie(ec, std::ignore) = co_await asio::async_write(*tls_, asio::buffer(bytes), use_tuple);
    else
        std::tie(ec, std::ignore) = co_await asio::async_write(plain_, asio::buffer(bytes), use_tuple);
    ++deadline_->generation;
    timer_.cancel();
    if (!ec) co_return Result::ok;
    co_return deadline_->expired ? Result::timed_out : Result::closed;
}

}  // namespace haineko::smtpd
