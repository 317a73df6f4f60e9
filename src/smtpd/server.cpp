#include "smtpd/server.hpp"

#include <boost/asio.hpp>
#include <spdlog/spdlog.h>

#include "core/queueid.hpp"
#include "core/text.hpp"
#include "core/tls.hpp"
#include "milter/chain.hpp"
#include "pipeline/filtering.hpp"
#include "pipeline/plugin_stages.hpp"
#include "smtpd/new_message.hpp"
#include "plugin/session.hpp"
#include "loops/live_connections.hpp"
#include "policy/password.hpp"
#include "policy/stages.hpp"
#include "queue/scheduler.hpp"
#include "queue/service.hpp"
#include "relay/mailer.hpp"
#include "plugin/host.hpp"
#include "relay/dns/reverse_name.hpp"
#include "relay/recipient_probe.hpp"
#include "smtpd/session.hpp"
#include "smtpd/wire.hpp"

namespace haineko {

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using smtpd::Session;
using smtpd::Wire;
using Next = Session::Next;

constexpr auto kWriteLimit = std::chrono::seconds(30);
constexpr auto kHandshakeLimit = std::chrono::seconds(30);
// A client whose reverse DNS does not answer waits this long for its greeting, at most.
constexpr auto kReverseNameLimit = std::chrono::milliseconds(5000);
// RFC 4954 4: an AUTH line with its initial response may be longer than a command.
constexpr std::size_t kMaxLine = 12288;

// RFC 2920 3.1: after these the client must wait for our answer (and after a 334 or 354).
bool ends_command_group(const std::string& line, const std::string& answer) {
    if (answer.starts_with("334") || answer.starts_with("354") || answer.starts_with("220")) return true;
    const std::string verb = to_upper(std::string_view(line).substr(0, line.find(' ')));
    return verb == "EHLO" || verb == "HELO" || verb == "DATA" || verb == "VRFY" || verb == "NOOP" ||
           verb == "STARTTLS" || verb == "HELP" || verb == "EXPN" || verb == "TURN";
}

smtpd::SessionSettings session_settings(const Config& config, const SmtpListener& l, bool plugins = false) {
    smtpd::SessionSettings s;
    s.hostname = config.smtpd.hostname;
    s.submission = l.submission;
    const auto& size = config.smtpd.max_message_size;
    s.max_message_size = size.valid && size.value > 0 ? static_cast<std::uint64_t>(size.value) : 0;
    s.max_rcpts = static_cast<std::size_t>(config.smtp.max_rcpts_per_transaction);
    s.tls_offered = l.tls == SmtpListener::Tls::starttls;
    s.tls_active = l.tls == SmtpListener::Tls::implicit;
    s.auth_offered = !config.passwords.empty() && !l.inbound;  // an inbound listener never offers AUTH
    s.auth_requires_tls = config.smtp.auth_requires_tls;
    // With plugins, every MAIL and RCPT stops for them: MAIL opens their transaction.
    s.consult_mail = s.consult_rcpt = plugins;
    return s;
}

plugin::Params mail_params(const smtpd::MailFrom& m) {
    plugin::Params p;
    if (m.size) p["SIZE"] = std::to_string(*m.size);
    if (m.eight_bit) p["BODY"] = "8BITMIME";
    if (m.smtputf8) p["SMTPUTF8"] = "";
    if (m.ret) p["RET"] = *m.ret;
    if (m.envid) p["ENVID"] = *m.envid;
    if (m.auth) p["AUTH"] = *m.auth;
    return p;
}

plugin::Params rcpt_params(const smtpd::RcptTo& r) {
    plugin::Params p;
    if (r.notify) p["NOTIFY"] = *r.notify;
    if (r.orcpt) p["ORCPT"] = *r.orcpt;
    return p;
}

// A plugin's refusal as the step the session takes (closing after it when it said so).
Session::Step refused_by_plugin(const plugin::Result& r, Session::Step refused) {
    refused.answer = r.smtp_reply();
    if (r.disconnects()) refused.next = Next::close;
    return refused;
}

// The same stage functions as HTTP decide (policy/stages): relayhosts at connect,
// recipients at RCPT; the password file for AUTH.
// An inbound listener takes mail from anyone, for the domains of etc/inbound only.
smtpd::SessionPolicy inbound_policy(std::shared_ptr<const Config> config) {
    smtpd::SessionPolicy p;
    p.client_may_relay = true;  // the recipient check below is the relay check
    p.rcpt_refusal = [config](const std::string& rcpt) -> std::optional<smtpd::Refusal> {
        switch (inbound_rcpt(*config, rcpt)) {
        case InboundRcpt::taken:
        case InboundRcpt::ask_backend: return std::nullopt;  // the backend is asked next (rcpt_needs_probe)
        case InboundRcpt::not_ours: return smtpd::Refusal{554, "5.7.1", "Relay access denied"};
        case InboundRcpt::unknown_user: return smtpd::Refusal{550, "5.1.1", "Recipient address rejected: User unknown"};
        }
        return std::nullopt;
    };
    p.rcpt_needs_probe = [config](const std::string& rcpt) {
        return inbound_rcpt(*config, rcpt) == InboundRcpt::ask_backend;
    };
    return p;
}

// The backend's answer as ours: its own refusal of an unknown address, or 451 4.4.3 when it
// could not be asked (the client tries again; nothing is taken that might bounce later).
std::optional<smtpd::Refusal> probe_refusal(const ProbeAnswer& a) {
    switch (a.kind) {
    case ProbeAnswer::exists: return std::nullopt;
    case ProbeAnswer::refused:
        if (a.unknown_user)
            return smtpd::Refusal{a.code, a.dsn.empty() ? "5.1.1" : a.dsn, "Recipient address rejected: User unknown"};
        return smtpd::Refusal{a.code, a.dsn.empty() ? "5.0.0" : a.dsn,
                              "Recipient address rejected by the mailbox server"};
    case ProbeAnswer::unreachable: break;
    }
    return smtpd::Refusal{451, "4.4.3", "Recipient address cannot be verified now, try again later"};
}

smtpd::SessionPolicy session_policy(std::shared_ptr<const Config> config, const std::string& client,
                                    const SmtpListener& listener) {
    if (listener.inbound) return inbound_policy(std::move(config));
    smtpd::SessionPolicy p;
    p.client_may_relay = !connect_refusal(*config, client, false);
    p.rcpt_refusal = [config](const std::string& rcpt) -> std::optional<smtpd::Refusal> {
        if (!rcpt_refusal(*config, rcpt)) return std::nullopt;
        return smtpd::Refusal{553, "5.7.1", "Recipient address is not permitted"};
    };
    p.verify = [config](const std::string& user, const std::string& password) {
        auto it = config->passwords.find(user);
        return it != config->passwords.end() && verify_password(it->second, password);
    };
    return p;
}

struct Connection {
    Wire* wire;
    bool waiting = false;  // for the client's next command: may be closed at a stop
};

}  // namespace

struct SmtpServer::Impl : std::enable_shared_from_this<SmtpServer::Impl> {
    Runtime& runtime;
    queue::QueueService* queue = nullptr;
    // At a stop, sessions waiting for a command are answered 421; the others finish first.
    LiveConnections<Connection> live;

    explicit Impl(Runtime& rt)
        : runtime(rt), live(rt, [](Connection& c) {
              if (c.waiting) c.wire->cancel();
          }) {}

    struct Client {
        std::string address;
        int port = 0;
        std::string local_address;
        int local_port = 0;
    };

    asio::awaitable<void> serve(Loop& loop, tcp::socket socket, ConnectionSlot slot, SmtpListener listener,
                                std::shared_ptr<asio::ssl::context> tls) {
        boost::system::error_code ec;
        auto remote = socket.remote_endpoint(ec);
        if (ec) co_return;
        auto local = socket.local_endpoint(ec);
        if (ec) co_return;
        const Client client{client_address_of(remote), remote.port(), client_address_of(local), local.port()};
        socket.set_option(tcp::no_delay(true), ec);
        Wire wire(std::move(socket));
        Connection conn{&wire};
        const LiveConnections<Connection>::Entry listed(live, loop, conn);
        try {
            co_await converse(loop, wire, conn, client, listener, tls);
        } catch (const std::exception& e) {
            spdlog::error("smtp connection from {}:{} failed: {}", client.address, client.port, e.what());
        }
        wire.close();
        (void)slot;  // held until here: the connection counts against max_connections
    }

    asio::awaitable<void> converse(Loop& loop, Wire& wire, Connection& conn, const Client& client,
                                   const SmtpListener& listener, std::shared_ptr<asio::ssl::context> tls) {
        std::shared_ptr<const Config> config = runtime.config().get();
        const SmtpSettings& smtp = config->smtp;
        const std::string& host = config->smtpd.hostname;
        if (listener.tls == SmtpListener::Tls::implicit && co_await wire.start_tls(*tls, kHandshakeLimit) != Wire::Result::ok)
            co_return;
        if (co_await wire.talks_within(std::chrono::milliseconds(smtp.greet_pause))) {
            spdlog::info("smtp client={}:{} refused: talked before the greeting", client.address, client.port);
            co_await wire.write("554 5.5.0 " + host + " Error: talking before the greeting\r\n", kWriteLimit);
            co_return;
        }
        plugin::ConnFacts facts;  // set field by field: GCC 12 mishandles braced temporaries in coroutines
        facts.id = next_session_id(loop);
        facts.remote_ip = client.address;
        facts.remote_port = client.port;
        facts.local_ip = client.local_address;
        facts.local_port = client.local_port;
        facts.mode = listener.mode_name();
        facts.listener_address = listener.address;
        std::shared_ptr<plugin::Host> host_of_plugins = plugins_for(loop, config);
        // Only sessions with plugins pay for the lookups: nothing else reads the name.
        if (host_of_plugins && !host_of_plugins->empty())
            facts.remote_host = co_await dns::verified_reverse_name(loop.mailers->resolver(), client.address,
                                                                    kReverseNameLimit);
        plugin::Session plugins(std::move(host_of_plugins), facts);
        if (plugins.watches(plugin::Hook::connect)) {
            const plugin::Result r = co_await plugins.connect();
            if (r.refused()) {
                spdlog::info("smtp client={}:{} refused by plugin {} at connect: {}", client.address, client.port,
                             r.plugin, one_line(r.smtp_reply()));
                co_await wire.write(r.smtp_reply(), kWriteLimit);
                co_await plugins.disconnect();
                co_return;
            }
        }
        const smtpd::SessionSettings settings = session_settings(*config, listener, plugins.active());
        Session session(settings, session_policy(config, client.address, listener));
        Filters filters;
        if (!config->milters.empty()) {
            filters.chain = std::make_unique<milter::Chain>(co_await asio::this_coro::executor, config->milters);
            milter::ClientFacts facts;
            facts.address = client.address;
            facts.port = static_cast<std::uint16_t>(client.port);
            facts.our_hostname = host;
            facts.tls_version = wire.tls_version();
            facts.tls_cipher = wire.tls_cipher();
            const milter::Verdict v = co_await filters.chain->connect(facts);
            if (v.refused()) filters.session_refusal = v;
        }
        std::exception_ptr failure;
        try {
            co_await talk(loop, wire, conn, client, config, session, filters, plugins, tls);
        } catch (...) {
            failure = std::current_exception();
        }
        if (filters.chain) co_await filters.chain->close();
        co_await plugins.disconnect();
        if (failure) std::rethrow_exception(failure);
    }

    // What the milters said of this session so far.
    struct Filters {
        std::unique_ptr<milter::Chain> chain;
        std::optional<milter::Verdict> session_refusal;  // at connect or EHLO: answers every MAIL
        bool discard = false;                            // a filter discarded this transaction
    };

    asio::awaitable<void> talk(Loop& loop, Wire& wire, Connection& conn, const Client& client,
                               std::shared_ptr<const Config> config, Session& session, Filters& filters,
                               plugin::Session& plugins, std::shared_ptr<asio::ssl::context> tls) {
        const SmtpSettings& smtp = config->smtp;
        const std::chrono::seconds command_limit(smtp.command_timeout);
        const std::chrono::seconds data_limit(smtp.data_timeout);
        const std::string& host = config->smtpd.hostname;
        const std::uint64_t max_size = session_settings(*config, SmtpListener{}).max_message_size;
        std::string out = session.greeting();
        Wire::Line line;
        for (;;) {
            if (!wire.has_buffered_line()) {
                if (co_await wire.write(out, kWriteLimit) != Wire::Result::ok) co_return;
                out.clear();
            }
            if (loop.stopping) {  // answers already due go first (a 250 queued among them)
                co_await wire.write(out + "421 4.3.2 " + host + " Service shutting down\r\n", kWriteLimit);
                co_return;
            }
            conn.waiting = true;
            const Wire::Result read = co_await wire.read_line(line, kMaxLine, command_limit);
            conn.waiting = false;
            if (read == Wire::Result::timed_out) {
                co_await wire.write(out + "421 4.4.2 " + host + " Error: timeout exceeded\r\n", kWriteLimit);
                co_return;
            }
            if (read != Wire::Result::ok) {
                if (loop.stopping) co_await wire.write(out + "421 4.3.2 " + host + " Service shutting down\r\n", kWriteLimit);
                co_return;
            }
            // RFC 4954 4: the AUTH line and each SASL response may be 12,288 octets (the
            // wire's own limit); other commands keep RFC 5321's 512.
            const bool auth_line =
                session.in_auth_exchange() || to_upper(std::string_view(line.text).substr(0, 5)) == "AUTH ";
            const bool too_long = line.too_long || (!auth_line && line.text.size() + 2 > smtpd::kMaxCommandLine);
            Session::Step step = session.on_line(line.text, too_long);
            if ((!session.extended() || ends_command_group(line.text, step.answer)) && step.next != Next::close &&
                wire.has_pending_input()) {
                spdlog::info("smtp client={}:{} refused: sent ahead without waiting (after '{}')", client.address,
                             client.port, loggable(line.text.substr(0, 16)));
                co_await wire.write(out + "554 5.5.0 " + host + " Error: SMTP protocol synchronization\r\n", kWriteLimit);
                co_return;
            }
            if (plugins.active()) step = co_await plugin_command(plugins, session, line.text, std::move(step));
            if (step.next == Next::probe) step = co_await probe_rcpt(loop, *config, session, plugins, client);
            if (filters.chain && step.next != Next::close) co_await filter_command(filters, session, wire, line.text, step);
            // DATA, BDAT and a commit each take further steps before the next command.
            for (bool more = true; more;) {
                out += step.answer;
                more = false;
                switch (step.next) {
                case Next::command:
                case Next::consult:  // answered by plugin_command already
                case Next::probe:    // and by probe_rcpt
                    break;
                case Next::close:
                    co_await wire.write(out, kWriteLimit);
                    co_return;
                case Next::start_tls: {
                    if (co_await wire.write(out, kWriteLimit) != Wire::Result::ok) co_return;
                    out.clear();
                    if (co_await wire.start_tls(*tls, kHandshakeLimit) != Wire::Result::ok) co_return;
                    session.on_tls_started();
                    plugins.tls_started(wire.tls_version(), wire.tls_cipher());
                    if (filters.chain) {
                        filters.chain->client().tls_version = wire.tls_version();
                        filters.chain->client().tls_cipher = wire.tls_cipher();
                    }
                    break;
                }
                case Next::data: {
                    if (co_await wire.write(out, kWriteLimit) != Wire::Result::ok) co_return;
                    out.clear();
                    smtpd::DataReader reader(max_size);
                    const Wire::Result r = co_await wire.read_data(reader, data_limit);
                    if (r == Wire::Result::timed_out) {
                        co_await wire.write("421 4.4.2 " + host + " Error: timeout exceeded\r\n", kWriteLimit);
                        co_return;
                    }
                    if (r != Wire::Result::ok) co_return;
                    step = session.on_data(reader);
                    if (filters.chain && step.next != Next::commit) co_await filters.chain->abort();
                    more = true;
                    break;
                }
                case Next::chunk: {
                    std::string bytes;
                    // A refused chunk is read and dropped: nothing of it is kept.
                    const std::size_t keep =
                        session.chunk_refused() ? 0 : max_size ? max_size + 1 : std::string::npos;
                    const Wire::Result r = co_await wire.read_chunk(session.chunk_size(), keep, bytes, data_limit);
                    if (r == Wire::Result::timed_out) {
                        co_await wire.write(out + "421 4.4.2 " + host + " Error: timeout exceeded\r\n", kWriteLimit);
                        co_return;
                    }
                    if (r != Wire::Result::ok) co_return;
                    step = session.on_chunk(bytes);
                    if (filters.chain && step.next != Next::commit && step.answer.starts_with("5"))
                        co_await filters.chain->abort();  // the session refused the message itself
                    more = true;
                    break;
                }
                case Next::commit: {
                    step = co_await commit(*config, session, wire, client, filters, plugins);
                    loop.metrics.count_smtp(step.answer.starts_with("2")   ? "accepted"
                                            : step.answer.starts_with("4") ? "deferred"
                                                                           : "refused");
                    more = true;
                    break;
                }
                }
            }
        }
    }

    // The plugins on a command: MAIL and RCPT stop for them before the session's own
    // policy (so that an OK can stand in for it); EHLO, AUTH and DATA are asked once the
    // session took them, and a refusal takes them back.
    static asio::awaitable<Session::Step> plugin_command(plugin::Session& plugins, Session& session,
                                                         const std::string& line, Session::Step step) {
        using plugin::Hook;
        if (step.next == Next::consult) co_return co_await consult(plugins, session);
        const smtpd::Command c = smtpd::parse_command(line);
        if ((c.verb == smtpd::Verb::ehlo || c.verb == smtpd::Verb::helo) && step.answer.starts_with("250")) {
            plugins.end_transaction();
            const std::string verb = c.verb == smtpd::Verb::ehlo ? "EHLO" : "HELO";  // named: see consult()
            const plugin::Result r = co_await plugins.ehlo(verb, session.helo_name());
            if (!r.refused()) co_return step;
            session.take_back_helo();
            co_return refused_by_plugin(r, Session::Step{});
        }
        if (c.verb == smtpd::Verb::rset) plugins.end_transaction();
        if (step.answer.starts_with("235") && plugins.watches(Hook::auth)) {
            const plugin::Result r = co_await plugins.auth(session.auth_user(), session.auth_mechanism());
            if (!r.refused()) co_return step;
            session.take_back_auth();
            co_return refused_by_plugin(r, Session::Step{});
        }
        if (step.next == Next::data && plugins.watches(Hook::data)) {
            const plugin::Result r = co_await plugins.data();
            if (r.refused()) co_return refused_by_plugin(r, Session::Step{});
        }
        // BDAT: at the first chunk; its octets follow all the same, so a refusal answers them.
        if (step.next == Next::chunk && session.first_chunk() && plugins.watches(Hook::data)) {
            const plugin::Result r = co_await plugins.data();
            if (r.refused()) session.refuse_chunks(refused_by_plugin(r, Session::Step{}));
        }
        co_return step;
    }

    // An inbound backend's recipient (recipients: 'backend'): its server says whether it exists.
    static asio::awaitable<Session::Step> probe_rcpt(Loop& loop, const Config& config, Session& session,
                                                     plugin::Session& plugins, const Client& client) {
        const std::string rcpt = session.probed_rcpt();
        const InboundDomain* domain = inbound_domain(config, rcpt);
        ProbeAnswer answer;
        if (domain) answer = co_await loop.mailers->probe().ask(domain->route, config, rcpt);
        if (answer.kind == ProbeAnswer::unreachable)
            spdlog::warn("smtp client={}:{} rcpt={} could not be verified by its backend: {}", client.address,
                         client.port, loggable(rcpt), loggable(answer.reason));
        Session::Step step = session.on_probed(probe_refusal(answer));
        if (plugins.active() && step.answer.starts_with("250")) plugins.accept_rcpt();
        co_return step;
    }

    static asio::awaitable<Session::Step> consult(plugin::Session& plugins, Session& session) {
        const bool rcpt = session.consulting_rcpt();
        std::string address = session.consulted_address();
        // Two statements: GCC 12 destroys the result twice of a ?: with co_await on both sides.
        // Named values only: GCC 12 destroys a temporary made in a co_await's arguments twice.
        plugin::Result r;
        const plugin::Params params = rcpt ? rcpt_params(session.consulted_rcpt()) : mail_params(session.consulted_mail());
        const std::string queue_id = rcpt ? std::string() : make_queueid(std::chrono::system_clock::now());
        if (rcpt) r = co_await plugins.rcpt(address, params);
        else r = co_await plugins.mail(queue_id, address, params);
        using Consulted = Session::Consulted;
        if (r.refused()) co_return refused_by_plugin(r, session.on_consulted(Consulted::refuse, address, r.smtp_reply()));
        // Only a rewrite is checked: what the client sent passed the parser (<Postmaster> too).
        if (address != session.consulted_address() && !plugin_address_ok(address, !rcpt)) {
            spdlog::error("plugin={} hook={} queueid={} failed: it rewrote the address into '{}'", r.plugin,
                          rcpt ? "rcpt" : "mail", plugins.queue_id(), loggable(address));
            co_return session.on_consulted(Consulted::refuse, address,
                                           "451 4.3.0 Error: a plugin failed, try again later\r\n");
        }
        Session::Step step = session.on_consulted(r.answer == plugin::Answer::ok ? Consulted::ok : Consulted::cont,
                                                  address, {});
        if (rcpt && step.answer.starts_with("250")) plugins.accept_rcpt();  // after a probe: probe_rcpt
        co_return step;
    }

    // The milters on a command the session accepted: they may refuse it (the session takes
    // it back), or discard the transaction. RSET tells them the transaction is over.
    static asio::awaitable<void> filter_command(Filters& f, Session& session, Wire& wire, const std::string& line,
                                                Session::Step& step) {
        // AUTH may end on a continuation line: the filters learn the user whenever it changes.
        if (session.auth_user() != f.chain->client().auth_user) {
            f.chain->client().auth_user = session.auth_user();
            f.chain->client().auth_type = session.auth_mechanism();
        }
        const smtpd::Command c = smtpd::parse_command(line);
        if (!step.answer.starts_with("2")) co_return;
        if (c.verb == smtpd::Verb::rset || c.verb == smtpd::Verb::ehlo || c.verb == smtpd::Verb::helo) {
            co_await f.chain->abort();
            f.discard = false;
        }
        milter::Verdict v;
        switch (c.verb) {
        case smtpd::Verb::ehlo:
        case smtpd::Verb::helo:
            v = co_await f.chain->helo(session.helo_name());
            if (v.refused()) f.session_refusal = v;
            co_return;
        case smtpd::Verb::mail: {
            if (f.session_refusal) {
                session.take_back_mail();
                step.answer = f.session_refusal->smtp_reply();
                co_return;
            }
            const smtpd::MailFrom& m = session.envelope().mail;
            std::vector<std::string> args;
            if (m.size) args.push_back("SIZE=" + std::to_string(*m.size));
            if (m.eight_bit) args.emplace_back("BODY=8BITMIME");
            if (m.smtputf8) args.emplace_back("SMTPUTF8");
            v = co_await f.chain->mail(m.address, args);
            if (v.refused()) {
                session.take_back_mail();
                step.answer = v.smtp_reply();
                co_await f.chain->abort();
            }
            f.discard = v.kind == milter::Verdict::Kind::discard;
            co_return;
        }
        case smtpd::Verb::rcpt: {
            const smtpd::RcptTo& r = session.envelope().rcpts.back();
            std::vector<std::string> args;
            if (r.notify) args.push_back("NOTIFY=" + *r.notify);
            v = co_await f.chain->rcpt(r.address, args);
            if (v.refused()) {
                session.take_back_rcpt();
                step.answer = v.smtp_reply();
            }
            if (v.kind == milter::Verdict::Kind::discard) f.discard = true;
            co_return;
        }
        default:
            (void)wire;
            co_return;
        }
    }

    // The message into the queue, after the milters: 250 once the commit is on disk.
    asio::awaitable<Session::Step> commit(const Config& config, Session& session, Wire& wire, const Client& client,
                                          Filters& filters, plugin::Session& plugins) {
        SmtpArrival arrival;
        arrival.id = plugins.queue_id().empty() ? make_queueid(std::chrono::system_clock::now()) : plugins.queue_id();
        arrival.client_address = client.address;
        arrival.helo = session.helo_name();
        arrival.esmtp = session.extended();
        arrival.tls_version = wire.tls_version();
        arrival.tls_cipher = wire.tls_cipher();
        arrival.auth_user = session.auth_user();
        arrival.at = queue::now_millis();
        queue::NewMessage n = smtp_new_message(config, arrival, session.envelope(), session.message());
        if (plugins.watches(plugin::Hook::data_post)) {
            const plugin::Result r = co_await plugin_message_stage(plugins, plugin::Hook::data_post, config, n);
            if (r.refused()) co_return refused_at_end(r, n, client, session, plugins);
        }
        if (filters.chain) {
            const bool discarded_before = filters.discard;
            filters.discard = false;
            const milter::Verdict v = co_await filter_message(*filters.chain, config, n);
            if (v.refused()) {
                spdlog::info("queueid={} client={}:{} refused by milter {} at {}: {}", n.id, client.address, client.port,
                             v.filter, v.stage, one_line(v.smtp_reply()));
                co_return session.on_filtered(v.smtp_reply());
            }
            if (discarded_before || v.kind == milter::Verdict::Kind::discard || n.rcpts.empty()) {
                spdlog::info("queueid={} client={}:{} discarded by milter{}", n.id, client.address, client.port,
                             n.rcpts.empty() ? " (no recipient left)" : "");
                co_return session.on_committed(n.id);
            }
        }
        if (plugins.watches(plugin::Hook::queue)) {
            const plugin::Result r = co_await plugin_message_stage(plugins, plugin::Hook::queue, config, n);
            if (r.refused()) co_return refused_at_end(r, n, client, session, plugins);
        }
        if (n.rcpts.empty()) {
            spdlog::info("queueid={} client={}:{} discarded: a plugin left no recipient", n.id, client.address, client.port);
            plugins.end_transaction("discarded");
            co_return session.on_committed(n.id);
        }
        if (!queue) {
            spdlog::error("queueid={} not accepted from {}: the queue is not open", n.id, client.address);
            co_return session.on_commit_failed();
        }
        take_plugin_notes(plugins, n);
        try {
            co_await queue->store().enqueue(n, std::nullopt);
        } catch (const queue::StoreUnavailable& e) {
            spdlog::error("queueid={} not accepted from {}: {}", n.id, client.address, e.what());
            co_return session.on_commit_failed();
        }
        queue->wake();
        std::string to;
        for (const auto& r : n.rcpts) to += (to.empty() ? "" : ",") + r;
        spdlog::info("queueid={} client={}:{}{} status=250 api=smtp from=<{}> to=<{}> size={}{}", n.id, client.address,
                     client.port, n.user.empty() ? "" : " user=" + loggable(n.user), loggable(n.mail), loggable(to),
                     n.body.size(), n.held ? " held=quarantine" : "");
        plugins.end_transaction("queued");
        co_return session.on_committed(n.id);
    }

    static Session::Step refused_at_end(const plugin::Result& r, const queue::NewMessage& n, const Client& client,
                                        Session& session, plugin::Session& plugins) {
        spdlog::info("queueid={} client={}:{} refused by plugin {} at {}: {}", n.id, client.address, client.port,
                     r.plugin.empty() ? "-" : r.plugin, plugin::hook_name(r.hook), one_line(r.smtp_reply()));
        plugins.end_transaction("refused");
        return refused_by_plugin(r, session.on_filtered(r.smtp_reply()));
    }
};

SmtpServer::SmtpServer(Runtime& runtime, queue::QueueService* queue) : impl_(std::make_shared<Impl>(runtime)) {
    impl_->queue = queue;
}
SmtpServer::~SmtpServer() = default;

unsigned short SmtpServer::listen(const SmtpListener& listener) {
    std::shared_ptr<asio::ssl::context> tls;
    const Config& config = *impl_->runtime.config().get();
    if (listener.tls != SmtpListener::Tls::none) {
        try {
            tls = server_tls_context(config.smtp.tls_cert, config.smtp.tls_key);
        } catch (const std::exception& e) {
            throw ListenError("cannot listen on " + listener.address + " with TLS: " + e.what());
        }
    }
    auto impl = impl_;
    return impl_->runtime.listen(
        listener.host, listener.port,
        [impl, listener, tls](Loop& loop, tcp::socket socket, ConnectionSlot slot) {
            asio::co_spawn(loop.ctx, impl->serve(loop, std::move(socket), std::move(slot), listener, tls), asio::detached);
        },
        [host = config.smtpd.hostname](const std::string&, int) {
            return "421 4.7.0 " + host + " Error: too many connections\r\n";
        });
}

}  // namespace haineko
