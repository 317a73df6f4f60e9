#include "milter/filter.hpp"

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include "core/cidr.hpp"
#include "milter/packet.hpp"

namespace haineko::milter {

namespace asio = boost::asio;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kBodyChunk = 65535;

// What we let a filter do, and the steps it may decline or leave unanswered.
constexpr std::uint32_t kActions = add_headers | change_body | add_rcpt | delete_rcpt | change_headers | quarantine |
                                   change_from | add_rcpt_with_args;
constexpr std::uint32_t kProtocol = no_connect | no_helo | no_mail | no_rcpt | no_body | no_headers | no_eoh |
                                    no_unknown | no_data | skip | no_reply_header | no_reply_connect |
                                    no_reply_helo | no_reply_mail | no_reply_rcpt | no_reply_data | no_reply_unknown |
                                    no_reply_eoh | no_reply_body;

Answer answer(Answer::Kind kind) {
    Answer a;
    a.kind = kind;
    return a;
}

Answer rejected(int code, std::string dsn, std::string text) {
    return Answer{Answer::Kind::reject, code, std::move(dsn), std::move(text)};
}

// A folded value as libmilter's filters know it: LF line ends (as Sendmail and Postfix send).
std::string lf_value(const std::string& value) {
    std::string out;
    out.reserve(value.size());
    for (std::size_t i = 0; i < value.size(); ++i)
        if (!(value[i] == '\r' && i + 1 < value.size() && value[i + 1] == '\n')) out += value[i];
    return out;
}

}  // namespace

struct Filter::Impl {
    asio::generic::stream_protocol::socket socket;
    asio::steady_timer timer;
    PacketReader reader;
    std::uint32_t protocol = 0;  // what the filter declined (SMFIP_*)
    // Shared with the timer's handler, which may already be queued when this goes.
    struct Deadline {
        unsigned generation = 0;
        bool expired = false;
        bool gone = false;
    };
    std::shared_ptr<Deadline> deadline = std::make_shared<Deadline>();
    std::string name;  // the socket, for messages
    std::chrono::seconds limit;

    Impl(asio::any_io_executor ex, const MilterSettings& s)
        : socket(ex), timer(ex), name(s.socket), limit(s.timeout) {}
    ~Impl() { deadline->gone = true; }

    void arm() {
        deadline->expired = false;
        timer.expires_after(limit);
        timer.async_wait([this, d = deadline, g = ++deadline->generation](boost::system::error_code ec) {
            if (ec || d->gone || g != d->generation) return;
            d->expired = true;
            socket.cancel(ec);
        });
    }
    void disarm() {
        ++deadline->generation;
        timer.cancel();
    }
    [[noreturn]] void fail(const std::string& what, const boost::system::error_code& ec) {
        throw FilterError("milter " + name + ": " + what + ": " + (deadline->expired ? "timed out" : ec.message()));
    }

    asio::awaitable<void> send(const std::string& bytes) {
        arm();
        auto [ec, n] = co_await asio::async_write(socket, asio::buffer(bytes), use_tuple);
        disarm();
        if (ec) fail("write", ec);
    }

    asio::awaitable<Packet> packet() {
        for (;;) {
            try {
                if (auto p = reader.next()) co_return std::move(*p);
            } catch (const ProtocolError& e) {
                throw FilterError("milter " + name + ": " + e.what());
            }
            char buf[16 * 1024];
            arm();
            auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf), use_tuple);
            disarm();
            if (ec) fail("read", ec);
            try {
                reader.feed(std::string_view(buf, n));
            } catch (const ProtocolError& e) {
                throw FilterError("milter " + name + ": " + e.what());
            }
        }
    }

    asio::awaitable<Reply> reply() {
        for (;;) {
            const Packet p = co_await packet();
            std::string why;
            auto r = read_reply(p, &why);
            if (!r) throw FilterError("milter " + name + ": " + why);
            if (r->kind == 'p') continue;  // progress: the filter is still working
            co_return *r;
        }
    }

    Answer answer_of(const Reply& r) {
        switch (r.kind) {
        case 'c':
        case 's':
            return {};
        case 'a':
            return answer(Answer::Kind::accept);
        case 'd':
            return answer(Answer::Kind::discard);
        case 'r':
            return rejected(550, "5.7.1", "Command rejected");
        case 't':
            return Answer{Answer::Kind::tempfail, 451, "4.7.1", "Service unavailable - try again later"};
        case 'y': {
            if (r.code < 400 || r.code > 599) throw FilterError("milter " + name + ": a reply code that is not 4xx or 5xx");
            Answer a{r.code >= 500 ? Answer::Kind::reject : Answer::Kind::tempfail, r.code, r.dsn, r.text};
            if (a.dsn.empty()) a.dsn = r.code >= 500 ? "5.7.1" : "4.7.1";
            return a;
        }
        default:
            throw FilterError("milter " + name + ": an unexpected reply '" + std::string(1, r.kind) + "'");
        }
    }

    // One step: its macros and command, and the answer unless the filter declined the step
    // (skip_flag) or said it would not answer it (no_reply_flag).
    asio::awaitable<Answer> step(char command, const std::string& bytes, const Macros& m, std::uint32_t skip_flag,
                                 std::uint32_t no_reply_flag) {
        // The macros go even when the step does not (as Postfix): a filter may ask for them later.
        std::string out;
        if (!m.empty()) out = macros(command, m);
        if (protocol & skip_flag) {
            if (!out.empty()) co_await send(out);
            co_return Answer{};
        }
        out += bytes;
        co_await send(out);
        if (protocol & no_reply_flag) co_return Answer{};
        const Reply r = co_await reply();
        co_return answer_of(r);
    }
};

Filter::Filter(asio::any_io_executor executor, MilterSettings settings)
    : impl_(std::make_unique<Impl>(executor, settings)), settings_(std::move(settings)) {}
Filter::~Filter() = default;

asio::awaitable<void> Filter::open() {
    Impl& d = *impl_;
    boost::system::error_code ec;
    if (!settings_.path.empty()) {
        asio::local::stream_protocol::endpoint unix_ep(settings_.path);
        d.arm();
        std::tie(ec) = co_await d.socket.async_connect(asio::generic::stream_protocol::endpoint(unix_ep), use_tuple);
        d.disarm();
    } else {
        std::vector<asio::ip::tcp::endpoint> candidates;
        if (auto ip = parse_ip(settings_.host)) {
            candidates.emplace_back(*ip, settings_.port);
        } else {
            // The system resolver has no deadline of its own: the filter's timeout cancels
            // it (the handler only sees a weak pointer, so it is harmless once we are gone).
            auto resolver = std::make_shared<asio::ip::tcp::resolver>(d.socket.get_executor());
            auto timed_out = std::make_shared<bool>(false);
            asio::steady_timer resolve_deadline(d.socket.get_executor(), d.limit);
            resolve_deadline.async_wait([weak = std::weak_ptr(resolver), timed_out](boost::system::error_code tec) {
                if (tec) return;
                *timed_out = true;
                if (auto r = weak.lock()) r->cancel();
            });
            auto [rec, results] = co_await resolver->async_resolve(settings_.host, std::to_string(settings_.port), use_tuple);
            resolve_deadline.cancel();
            if (*timed_out) throw FilterError("milter " + d.name + ": resolve " + settings_.host + ": timed out");
            if (rec) d.fail("resolve " + settings_.host, rec);
            for (const auto& r : results) candidates.push_back(r.endpoint());
        }
        ec = asio::error::host_not_found;
        for (const auto& ep : candidates) {
            boost::system::error_code close_ec;
            d.socket.close(close_ec);
            d.arm();
            std::tie(ec) = co_await d.socket.async_connect(asio::generic::stream_protocol::endpoint(ep), use_tuple);
            d.disarm();
            if (!ec) break;
        }
    }
    if (ec) d.fail("connect", ec);
    co_await d.send(option_negotiation(kActions, kProtocol));
    const Reply r = co_await d.reply();
    if (r.kind != 'O') throw FilterError("milter " + d.name + ": no answer to the option negotiation");
    if (r.version < 2) throw FilterError("milter " + d.name + ": protocol version " + std::to_string(r.version));
    // A filter that asks for steps we did not offer to leave out gets them anyway.
    d.protocol = r.protocol & kProtocol;
}

asio::awaitable<Answer> Filter::connect(const std::string& hostname, const std::string& address, std::uint16_t port,
                                        const Macros& m) {
    co_return co_await impl_->step('C', milter::connect(hostname, address, port), m, no_connect, no_reply_connect);
}

asio::awaitable<Answer> Filter::helo(const std::string& name, const Macros& m) {
    co_return co_await impl_->step('H', milter::helo(name), m, no_helo, no_reply_helo);
}

asio::awaitable<Answer> Filter::mail(const std::string& sender, const std::vector<std::string>& args, const Macros& m) {
    co_return co_await impl_->step('M', milter::mail(sender, args), m, no_mail, no_reply_mail);
}

asio::awaitable<Answer> Filter::rcpt(const std::string& rcpt, const std::vector<std::string>& args, const Macros& m) {
    co_return co_await impl_->step('R', milter::rcpt(rcpt, args), m, no_rcpt, no_reply_rcpt);
}

asio::awaitable<EndOfMessage> Filter::message(Editable& message, const Macros& m) {
    Impl& d = *impl_;
    next_filter(message);  // the body as the filter before this one left it, CRLF
    EndOfMessage end;
    end.answer = co_await d.step('T', milter::data(), m, no_data, no_reply_data);
    if (end.answer.kind != Answer::Kind::go_on) co_return end;
    for (const auto& h : message.headers) {
        end.answer = co_await d.step('L', milter::header(h.name, lf_value(h.value)), {}, no_headers, no_reply_header);
        if (end.answer.kind != Answer::Kind::go_on) co_return end;
    }
    end.answer = co_await d.step('N', milter::end_of_headers(), m, no_eoh, no_reply_eoh);
    if (end.answer.kind != Answer::Kind::go_on) co_return end;
    if (!(d.protocol & no_body)) {
        for (std::size_t at = 0; at < message.body.size(); at += kBodyChunk) {
            const std::string_view piece = std::string_view(message.body).substr(at, kBodyChunk);
            co_await d.send(milter::body(piece));
            if (d.protocol & no_reply_body) continue;
            const Reply r = co_await d.reply();
            if (r.kind == 's') break;  // the filter has seen enough of the body
            end.answer = d.answer_of(r);
            if (end.answer.kind != Answer::Kind::go_on) co_return end;
        }
    }
    std::string out = m.empty() ? std::string() : macros('E', m);
    out += milter::end_of_message();
    co_await d.send(out);
    // Changes are kept until the final reply: a filter that fails half way changes nothing.
    std::vector<Reply> changes;
    for (;;) {
        Reply r = co_await d.reply();
        if (r.kind == 'q') {
            end.quarantined = true;
            end.quarantine_reason = r.text;
            continue;
        }
        if (std::string_view("himb+2-e").find(r.kind) != std::string_view::npos) {
            changes.push_back(std::move(r));
            continue;
        }
        end.answer = d.answer_of(r);
        for (const auto& change : changes)
            if (!apply(change, message) && (change.kind == 'h' || change.kind == 'i' || change.kind == 'm'))
                throw FilterError("milter " + d.name + ": a header change with an invalid field name");
        co_return end;
    }
}

asio::awaitable<void> Filter::abort() { co_await impl_->send(milter::abort()); }

asio::awaitable<void> Filter::quit() {
    Impl& d = *impl_;
    if (d.socket.is_open()) {
        try {
            co_await d.send(milter::quit());
        } catch (const FilterError&) {
        }
    }
    boost::system::error_code ec;
    d.socket.close(ec);
}

}  // namespace haineko::milter
