#include "loops/runtime.hpp"

#include "plugin/host.hpp"
#include "loops/plugin_dns.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <csignal>
#include <thread>

#include "core/blocking.hpp"
#include "loops/log.hpp"
#include "core/tls.hpp"
#include "relay/mailer.hpp"
#include "relay/route_check.hpp"

namespace haineko {
namespace {

void set_stop_signals_blocked(bool blocked) {
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
    pthread_sigmask(blocked ? SIG_BLOCK : SIG_UNBLOCK, &set, nullptr);
}

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr auto kDrainLimit = std::chrono::seconds(30);

std::size_t descriptor_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
    // Use what the hard limit allows: connections are cheap, running out of descriptors is not.
    if (rl.rlim_cur < rl.rlim_max) {
        rlimit raised = rl;
        raised.rlim_cur = rl.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
    }
    return rl.rlim_cur == RLIM_INFINITY ? 1 << 20 : static_cast<std::size_t>(rl.rlim_cur);
}

// A descriptor kept in reserve: when accept fails for lack of descriptors, giving this
// one back lets us accept the waiting connection and close it at once, instead of
// leaving it in the backlog and spinning on the failure.
class ReserveDescriptor {
public:
    ReserveDescriptor() { take(); }
    ~ReserveDescriptor() { give_back(); }
    void take() {
        if (fd_ < 0) fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    void give_back() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

bool out_of_descriptors(const boost::system::error_code& ec) {
    return ec == asio::error::no_descriptors || ec.value() == ENFILE || ec == asio::error::no_buffer_space ||
           ec == asio::error::no_memory;
}

}  // namespace

std::size_t default_max_connections() {
    const std::size_t limit = descriptor_limit();
    // Room for relay sessions, files being written, DNS sockets and the log.
    return limit > 256 ? limit - 128 : std::max<std::size_t>(limit / 2, 16);
}

struct Runtime::Impl {
    struct Listener {
        std::string host;
        tcp::acceptor acceptor;
        AcceptHandler on_accept;
        ShedHandler shed;
        explicit Listener(asio::io_context& ctx) : acceptor(ctx) {}
    };

    Options options;
    ConfigHolder config;
    std::vector<std::unique_ptr<Loop>> loops;
    std::vector<std::unique_ptr<std::atomic<std::size_t>>> per_loop;  // open connections of each loop
    std::vector<std::unique_ptr<Listener>> listeners;
    std::shared_ptr<TlsContexts> tls = std::make_shared<TlsContexts>();
    std::shared_ptr<std::atomic<std::size_t>> open_connections = std::make_shared<std::atomic<std::size_t>>(0);
    std::atomic<std::size_t> max_connections{0};
    std::atomic<bool> reload_queued{false};
    // Reloads running on the blocking pool; the runtime waits for none before it goes.
    struct InFlight {
        std::mutex mutex;
        std::condition_variable none_left;
        int count = 0;
        void begin() {
            std::lock_guard lock(mutex);
            ++count;
        }
        void end() {
            std::lock_guard lock(mutex);
            if (--count == 0) none_left.notify_all();
        }
        void wait_for_none() {
            std::unique_lock lock(mutex);
            none_left.wait(lock, [this] { return count == 0; });
        }
    } reloads_in_flight;
    std::atomic<bool> stopping{false};
    std::mutex reload_mutex;
    ReserveDescriptor reserve;
    std::mutex stop_mutex;
    std::condition_variable stopped_cv;
    bool all_stopped = false;
    std::thread watchdog;
    // A loop with nothing to do must still wait for connections the listener hands it.
    std::vector<std::optional<asio::executor_work_guard<asio::io_context::executor_type>>> idle_guards;

    Impl(Options o, std::shared_ptr<const Config> c, int threads) : options(std::move(o)), config(std::move(c)) {
        // A file-size limit (ulimit -f) reached by the queue or the File mailer must fail
        // that write (EFBIG: answered 503 or 4xx), not kill the server with every request
        // in flight.
        ::signal(SIGXFSZ, SIG_IGN);
        // Every thread made from here on (loops, stores, pools) is born with the stop and
        // reload signals blocked; run() lets only its own thread take them, and blocks them
        // again before the signal set goes and puts back their default action. So a SIGTERM
        // during the teardown (systemd, an impatient operator) stays pending, not fatal.
        set_stop_signals_blocked(true);
        tls->preload(config.get()->smtpd.tls_ca_file);
        if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());
        if (threads <= 0) threads = 1;
        for (int i = 0; i < threads; ++i) {
            auto loop = std::make_unique<Loop>();
            loop->index = static_cast<std::size_t>(i);
            loop->mailers = std::make_unique<MailerSet>(loop->ctx.get_executor(), static_cast<std::size_t>(threads),
                                                        *config.get(), tls);
            loop->plugin_dns = make_plugin_dns(loop->mailers->resolver());
            loop->plugin_services.dns = loop->plugin_dns.get();
            loop->plugin_http = make_plugin_http(loop->mailers->web());
            loop->plugin_services.http = loop->plugin_http.get();
            loops.push_back(std::move(loop));
            per_loop.push_back(std::make_unique<std::atomic<std::size_t>>(0));
            idle_guards.emplace_back(asio::make_work_guard(loops.back()->ctx));
        }
        update_max_connections(*config.get());
    }

    void update_max_connections(const Config& c) {
        max_connections = c.smtpd.max_connections > 0 ? c.smtpd.max_connections : default_max_connections();
    }

    Loop& least_busy_loop() {
        std::size_t best = 0;
        for (std::size_t i = 1; i < loops.size(); ++i)
            if (*per_loop[i] < *per_loop[best]) best = i;
        return *loops[best];
    }

    static tcp::endpoint resolve_endpoint(const std::string& host, unsigned short port) {
        boost::system::error_code ec;
        auto addr = asio::ip::make_address(host, ec);
        if (!ec) return {addr, port};
        asio::io_context tmp;
        tcp::resolver resolver(tmp);
        auto results = resolver.resolve(host, std::to_string(port), ec);
        if (ec || results.empty())
            throw ListenError("cannot listen on " + host + ":" + std::to_string(port) + ": cannot resolve " + host);
        return results.begin()->endpoint();
    }

    unsigned short listen(const std::string& host, unsigned short port, AcceptHandler on_accept, ShedHandler shed) {
        tcp::endpoint ep = resolve_endpoint(host, port);
        auto listener = std::make_unique<Listener>(loops.front()->ctx);
        listener->host = host;
        listener->on_accept = std::move(on_accept);
        listener->shed = std::move(shed);
        auto& a = listener->acceptor;
        boost::system::error_code ec;
        a.open(ep.protocol(), ec);
        // SO_REUSEADDR only lets us bind past old TIME_WAIT connections; without
        // SO_REUSEPORT a second server on the same port fails here, as it must.
        if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec && ep.address().is_v6()) a.set_option(asio::ip::v6_only(true), ec);
        if (!ec) a.bind(ep, ec);
        if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) throw ListenError("cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
        const unsigned short bound = a.local_endpoint().port();
        listeners.push_back(std::move(listener));
        return bound;
    }

    // Answers and closes a connection we will not serve; never waits long for it.
    static asio::awaitable<void> shed_connection(tcp::socket socket, std::string answer) {
        asio::steady_timer limit(socket.get_executor(), std::chrono::seconds(1));
        limit.async_wait([&socket](boost::system::error_code ec) {
            if (!ec) socket.close(ec);
        });
        co_await asio::async_write(socket, asio::buffer(answer), use_tuple);
        boost::system::error_code ignored;
        socket.shutdown(tcp::socket::shutdown_both, ignored);
        limit.cancel();
        socket.close(ignored);
    }

    asio::awaitable<void> accept_loop(Listener& l) {
        std::size_t refused = 0;
        auto pause = std::chrono::milliseconds(10);
        for (;;) {
            Loop& target = least_busy_loop();
            auto [ec, socket] = co_await l.acceptor.async_accept(target.ctx, use_tuple);
            if (ec == asio::error::operation_aborted || !l.acceptor.is_open()) co_return;
            if (out_of_descriptors(ec)) {
                // Out of descriptors: free the reserve, take the waiting connection and drop
                // it, then pause a little; say so once per episode, not once per try.
                if (refused++ == 0)
                    spdlog::warn("accept on {}: {}; refusing connections until descriptors free up", l.host, ec.message());
                reserve.give_back();
                boost::system::error_code drop_ec;
                tcp::socket dropped = l.acceptor.accept(drop_ec);
                if (!drop_ec) dropped.close(drop_ec);
                reserve.take();
                asio::steady_timer wait(loops.front()->ctx, pause);
                co_await wait.async_wait(use_tuple);
                pause = std::min(pause * 2, std::chrono::milliseconds(500));
                continue;
            }
            if (ec) {
                spdlog::warn("accept on {} failed: {}", l.host, ec.message());
                continue;
            }
            if (refused > 0) {
                spdlog::info("accepting again on {} after refusing {} connection(s) for lack of descriptors", l.host,
                             refused);
                refused = 0;
                pause = std::chrono::milliseconds(10);
            }
            socket.set_option(tcp::no_delay(true), ec);
            if (open_connections->load() >= max_connections.load()) {
                auto peer = socket.remote_endpoint(ec);
                auto address = peer.address();
                if (address.is_v6() && address.to_v6().is_v4_mapped())
                    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
                std::string answer = l.shed(ec ? std::string() : address.to_string(), ec ? 0 : peer.port());
                asio::co_spawn(target.ctx, shed_connection(std::move(socket), std::move(answer)), asio::detached);
                continue;
            }
            asio::post(target.ctx, [&l, &target, socket = std::move(socket),
                                    slot = ConnectionSlot(open_connections, per_loop[target.index].get())]() mutable {
                if (target.stopping) return;
                l.on_accept(target, std::move(socket), std::move(slot));
            });
        }
    }

    void begin_stop(Loop& loop) {
        loop.stopping = true;
        idle_guards[loop.index].reset();  // the loop ends once its last work is done
        for (auto& hook : loop.on_stop) hook();
        loop.mailers->drain();
    }

    void reload() {
        // Reading files is blocking work: it runs off the loops, and only the swap of the
        // snapshot (and each loop's resolver settings) happens on them. Signals that come
        // while a reload waits to start share it: a storm of SIGHUPs is one or two reloads.
        if (reload_queued.exchange(true)) return;
        reloads_in_flight.begin();
        asio::post(blocking_pool(), [this] {
            // The runtime waits for this before it goes (see run()).
            struct Done {
                InFlight& in_flight;
                ~Done() { in_flight.end(); }
            } done{reloads_in_flight};
            reload_queued = false;
            std::lock_guard one_at_a_time(reload_mutex);
            if (stopping) return;
            std::shared_ptr<const Config> next;
            try {
                next = load_config(options);
                plugin::check_plugins(next->plugins);
            } catch (const std::exception& e) {
                spdlog::error("reload failed, keeping the running configuration: {}", e.what());
                return;
            }
            for (const auto& w : next->warnings) spdlog::warn("{}", w);
            for (const auto& p : next->problems) spdlog::warn("{}", p);
            for (const auto& p : route_problems(*next)) spdlog::warn("{}", p);
            configure_logging(*next);
            tls->preload(next->smtpd.tls_ca_file);  // the CA file may have changed even if its name did not
            config.set(next);
            update_max_connections(*next);
            for (auto& loop : loops)
                asio::post(loop->ctx, [l = loop.get(), next] { l->mailers->reconfigure(*next); });
            spdlog::info("configuration reloaded from {}", config_source_text(*next));
        });
    }

    int run(const std::function<void()>& on_ready) {
        Loop& first = *loops.front();
        asio::signal_set signals(first.ctx, SIGTERM, SIGINT, SIGHUP);
        std::function<void()> wait_signal;
        wait_signal = [&] {
            signals.async_wait([&](boost::system::error_code ec, int sig) {
                if (ec) return;
                if (sig == SIGHUP) {
                    spdlog::info("signal {}: reloading the configuration", sig);
                    reload();
                    wait_signal();
                    return;
                }
                spdlog::info("signal {}: finishing requests in flight, then stopping", sig);
                stopping = true;
                for (auto& l : listeners) {
                    boost::system::error_code ignored;
                    l->acceptor.close(ignored);
                }
                for (auto& loop : loops) asio::post(loop->ctx, [this, l = loop.get()] { begin_stop(*l); });
                signals.cancel();
                start_watchdog();
            });
        };
        wait_signal();
        for (auto& l : listeners) asio::co_spawn(first.ctx, accept_loop(*l), asio::detached);
        struct Reblock {
            ~Reblock() { set_stop_signals_blocked(true); }  // before `signals` goes (declared after it)
        } reblock;
        if (on_ready) on_ready();
        std::vector<std::thread> workers;
        for (size_t i = 1; i < loops.size(); ++i)
            workers.emplace_back([l = loops[i].get()] {
                batch_log_lines_on(&l->ctx);
                l->ctx.run();
                batch_log_lines_on(nullptr);
            });
        set_stop_signals_blocked(false);  // this thread alone takes them, for the signal set
        batch_log_lines_on(&first.ctx);
        first.ctx.run();
        batch_log_lines_on(nullptr);
        for (auto& t : workers) t.join();
        {
            std::lock_guard lock(stop_mutex);
            all_stopped = true;
        }
        stopped_cv.notify_all();
        if (watchdog.joinable()) watchdog.join();
        reloads_in_flight.wait_for_none();
        spdlog::info("stopped");
        return 0;
    }

    // A client that never finishes its request must not keep the server from stopping.
    void start_watchdog() {
        watchdog = std::thread([this] {
            set_stop_signals_blocked(true);  // made on the loop's thread, which takes them
            std::unique_lock lock(stop_mutex);
            if (!stopped_cv.wait_for(lock, kDrainLimit, [this] { return all_stopped; })) {
                spdlog::warn("requests still in flight after {} s; stopping anyway", kDrainLimit.count());
                for (auto& loop : loops) loop->ctx.stop();
            }
        });
    }
};

Runtime::Runtime(Options options, std::shared_ptr<const Config> initial, int threads)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(initial), threads)) {}
Runtime::~Runtime() = default;
ConfigHolder& Runtime::config() { return impl_->config; }
std::vector<std::unique_ptr<Loop>>& Runtime::loops() { return impl_->loops; }
unsigned short Runtime::listen(const std::string& host, unsigned short port, AcceptHandler on_accept, ShedHandler shed) {
    return impl_->listen(host, port, std::move(on_accept), std::move(shed));
}
int Runtime::run(const std::function<void()>& on_ready) {
    const int status = impl_->run(on_ready);
    // The process is stopping already: a second SIGTERM or SIGINT (systemd, an impatient
    // operator) during the teardown that follows (the queue closing) must not kill it. The
    // signal set, gone now, put back the default action, which would make a clean stop
    // look like a crash.
    std::signal(SIGTERM, SIG_IGN);
    std::signal(SIGINT, SIG_IGN);
    return status;
}
std::size_t Runtime::max_connections() const { return impl_->max_connections.load(); }

std::string client_address_of(const boost::asio::ip::tcp::endpoint& endpoint) {
    auto a = endpoint.address();
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        a = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
    return a.to_string();
}

}  // namespace haineko
