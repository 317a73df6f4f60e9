// hainekoctl: the one executable. Runs the server (run, start, stop, restart, reload,
// status), checks a configuration (check), shows and acts on the queue (queue), writes a
// working tree (setup) and password lines (pw).
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <signal.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/daemon.hpp"
#include "cli/queue_command.hpp"
#include "cli/setup_files.hpp"
#include "config/config.hpp"
#include "config/yaml_file.hpp"
#include "loops/log.hpp"
#include "core/tls.hpp"
#include "plugin/host.hpp"
#include "policy/password.hpp"
#include "relay/route_check.hpp"
#include "loops/runtime.hpp"
#include "runtime/server_process.hpp"

namespace {

using namespace haineko;
namespace fs = std::filesystem;

constexpr int kUsageError = 2;   // bad flags, a broken or missing config, a port we cannot take
constexpr int kNotRunning = 3;   // status, reload: no server runs

struct ServerFlags {
    std::string host = "127.0.0.1";
    int port = 2794;
    std::string conf;
    bool auth = false;
    bool devel = false;
    int threads = 0;
    std::string pid_file;
    std::string log_file;
    std::string app;  // the original's -a (a PSGI file); accepted and ignored
    std::vector<std::string> smtp;  // --smtp HOST:PORT
};

void add_config_flags(CLI::App* cmd, ServerFlags& f) {
    cmd->add_option("-C,--conf", f.conf, "haineko.cf to read (default $HAINEKO_CONF or ROOT/etc/haineko.cf)");
    cmd->add_flag("-A,--auth", f.auth, "require HTTP Basic auth (password file: $HAINEKO_AUTH or ROOT/etc/password)");
    cmd->add_flag("-d,--devel", f.devel, "development mode: GET /submit, NAME-debug tables, debug logs");
    cmd->add_option("-p,--port", f.port, "port to listen on (default 2794)")->check(CLI::Range(1, 65535));
}

void add_server_flags(CLI::App* cmd, ServerFlags& f) {
    cmd->add_option("-o,--host", f.host, "address to listen on (default 127.0.0.1)");
    add_config_flags(cmd, f);
    cmd->add_option("-t,--threads", f.threads, "event loops (default: one per core)")->check(CLI::Range(0, 256));
    cmd->add_option("--pid-file", f.pid_file, "pid file (default ROOT/run/haineko.pid)");
    cmd->add_option("--log-file", f.log_file, "log file of a started server (default ROOT/log/haineko.log)");
    cmd->add_option("-a,--app", f.app, "accepted for compatibility; ignored");
    cmd->add_option("--smtp", f.smtp, "also take mail by SMTP on HOST:PORT (a relay listener without TLS); repeatable");
    // restart passes the running server's arguments first and its own after them.
    for (auto* opt : cmd->get_options()) opt->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    cmd->get_option("--smtp")->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

Options server_options(const ServerFlags& f) {
    Options o = options_from_environment();
    if (!f.conf.empty()) {
        o.conf = f.conf;
        o.conf_source = "-C";
    }
    if (f.auth && !o.auth_file) o.auth_file = std::string();
    if (f.devel) o.devel = true;
    o.listen_port = f.port;
    o.smtp_listen = f.smtp;
    return o;
}

std::string pid_file_of(const ServerFlags& f, const Options& o) {
    return f.pid_file.empty() ? o.root + "/run/haineko.pid" : f.pid_file;
}

std::string self_path() {
    std::error_code ec;
    auto p = fs::read_symlink("/proc/self/exe", ec);
    return ec ? std::string("hainekoctl") : p.string();
}

int serve(const ServerFlags& f, bool background) {
    Options options = server_options(f);
    std::shared_ptr<const Config> config;
    try {
        config = load_config(options);
        plugin::check_plugins(config->plugins);
    } catch (const ConfigError& e) {
        std::fprintf(stderr, "hainekoctl: %s\n", e.what());
        return kUsageError;
    } catch (const plugin::LoadError& e) {
        std::fprintf(stderr, "hainekoctl: a plugin does not load: %s\n", e.what());
        return kUsageError;
    }
    const std::string pid_path = pid_file_of(f, options);
    std::optional<Daemon> daemon;
    if (background) {
        if (pid_t pid = running_pid(pid_path)) {
            std::fprintf(stderr, "hainekoctl: already running, pid %d (%s)\n", static_cast<int>(pid), pid_path.c_str());
            return 1;
        }
        daemon = Daemon::detach(f.log_file.empty() ? options.root + "/log/haineko.log" : f.log_file);
    }
    auto fail = [&](const std::string& why, int code) {
        spdlog::error("{}", why);
        if (daemon) daemon->failed(why, code);
        return code;
    };
    configure_logging(*config);
    for (const auto& w : config->warnings) spdlog::warn("{}", w);
    for (const auto& p : config->problems) spdlog::warn("{}", p);
    for (const auto& p : route_problems(*config)) spdlog::warn("{}", p);
    try {
        ServerProcess server(options, config, f.threads, f.host, f.port);
        pid_t holder = 0;
        std::optional<PidFile> pid_file;
        try {
            pid_file = PidFile::acquire(pid_path, holder);
        } catch (const std::exception& e) {
            if (background) return fail(e.what(), 1);
            spdlog::warn("{}; running without one (status and stop will not find this server)", e.what());
        }
        if (!pid_file && holder != 0) {
            if (background) return fail("already running, pid " + std::to_string(holder) + " (" + pid_path + ")", 1);
            spdlog::warn("the pid file {} is held by another server (pid {}); this one writes none", pid_path, holder);
        }
        spdlog::info("Haineko {} listening on {}:{} with {} event loop(s); root {}; config {}; node {}", HAINEKO_VERSION,
                     f.host, server.http_port(), server.loops(), options.root, config_source_text(*config),
                     config->node_id);
        return server.run([&] {
            if (daemon) daemon->ready(::getpid());
        });
    } catch (const ListenError& e) {
        return fail(e.what(), kUsageError);
    } catch (const std::exception& e) {
        return fail(e.what(), 1);
    }
}

// Every problem a configuration has, as `postfix check` does: 0 when none, else 2.
// Warnings (a world-readable authinfo, a host name without a dot) do not fail it.
int check(const ServerFlags& f) {
    Options options = server_options(f);
    std::shared_ptr<const Config> config;
    try {
        config = load_config(options);
    } catch (const ConfigError& e) {
        std::printf("error: %s\n", e.what());
        return kUsageError;
    }
    std::vector<std::string> errors = config->problems;
    for (auto& p : route_problems(*config)) errors.push_back(std::move(p));
    try {
        plugin::check_plugins(config->plugins);
        for (const auto& p : config->plugins.list)
            std::printf("plugin %s: %s (%s)\n", p.name.c_str(), p.path.empty() ? "bundled" : p.path.c_str(),
                        p.origin.c_str());
    } catch (const plugin::LoadError& e) {
        errors.push_back(std::string("a plugin does not load: ") + e.what());
    }
    bool tls_wanted = false;
    for (const auto& l : config->smtp.listen) {
        std::printf("smtp listener %s: %s, tls %s (%s)\n", l.address.c_str(), l.mode_name(), l.tls_name(),
                    l.origin.c_str());
        tls_wanted = tls_wanted || l.tls != SmtpListener::Tls::none;
    }
    if (tls_wanted) {
        try {
            server_tls_context(config->smtp.tls_cert, config->smtp.tls_key);
        } catch (const std::exception& e) {
            errors.emplace_back(e.what());
        }
    }
    for (const auto& e : errors) std::printf("error: %s\n", e.c_str());
    for (const auto& w : config->warnings) std::printf("warning: %s\n", w.c_str());
    std::printf("%s: %zu error(s), %zu warning(s)\n", config_source_text(*config).c_str(), errors.size(),
                config->warnings.size());
    return errors.empty() ? 0 : kUsageError;
}

// SIGHUP to the server; first the files are read here as the server will read them, so
// that a broken file (a plugin that does not load) is told here too, with exit 2. The
// server then keeps what it runs, and its log says the same.
int reload_server(pid_t pid) {
    for (const auto& [name, value] : server_environment(pid))
        if (name.starts_with("HAINEKO_") && !std::getenv(name.c_str())) ::setenv(name.c_str(), value.c_str(), 1);
    std::string problem;
    try {
        plugin::check_plugins(load_config(options_from_environment())->plugins);
    } catch (const ConfigError& e) {
        problem = e.what();
    } catch (const plugin::LoadError& e) {
        problem = std::string("a plugin does not load: ") + e.what();
    }
    ::kill(pid, SIGHUP);
    if (!problem.empty()) {
        std::fprintf(stderr, "hainekoctl: %s\nHaineko (pid %d) keeps its running configuration\n", problem.c_str(),
                     static_cast<int>(pid));
        return kUsageError;
    }
    std::printf("Haineko (pid %d) is reloading its configuration; its log says how it went\n", static_cast<int>(pid));
    return 0;
}

int restart(const ServerFlags& f, const std::vector<std::string>& own_args) {
    Options o = server_options(f);
    const std::string pid_path = pid_file_of(f, o);
    std::vector<std::string> args;
    if (pid_t pid = running_pid(pid_path)) {
        // Keep what the server was started with; options given to restart win.
        args = server_arguments(pid);
        for (const auto& [name, value] : server_environment(pid))
            if (!std::getenv(name.c_str())) ::setenv(name.c_str(), value.c_str(), 1);
        if (!stop_process(pid_path, 35)) {
            std::fprintf(stderr, "hainekoctl: the running server (pid %d) did not stop\n", static_cast<int>(pid));
            return 1;
        }
    }
    args.insert(args.end(), own_args.begin(), own_args.end());
    std::vector<std::string> argv{"hainekoctl", "start"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> raw;
    for (auto& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    const std::string self = self_path();
    ::execv(self.c_str(), raw.data());
    std::fprintf(stderr, "hainekoctl: cannot run %s: %s\n", self.c_str(), std::strerror(errno));
    return 1;
}

int setup(const std::string& dest, bool force) {
    for (const auto& file : setup_files()) {
        fs::path path = fs::path(dest) / file.path;
        fs::create_directories(path.parent_path());
        if (fs::exists(path) && !force) {
            std::printf("kept     %s (exists; --force overwrites)\n", path.c_str());
            continue;
        }
        std::ofstream out(path, std::ios::trunc);
        out << file.content;
        out.close();
        if (!out) throw std::runtime_error("cannot write " + path.string());
        fs::permissions(path, file.secret ? fs::perms::owner_read | fs::perms::owner_write
                                          : fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                                fs::perms::others_read);
        std::printf("wrote    %s\n", path.c_str());
    }
    for (const char* dir : {"outbox", "run", "log"}) fs::create_directories(fs::path(dest) / dir);
    const std::string root = fs::absolute(dest).lexically_normal().string();
    std::printf("Haineko working tree ready in %s\nStart it with: HAINEKO_ROOT=%s %s run\n", root.c_str(), root.c_str(),
                self_path().c_str());
    return 0;
}

std::string read_secret(const char* prompt) {
    std::fprintf(stderr, "%s", prompt);
    termios old{};
    bool tty = ::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        termios quiet = old;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    std::string line;
    std::getline(std::cin, line);
    if (tty) {
        ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
        std::fprintf(stderr, "\n");
    }
    return line;
}

int password_line(const std::string& user, std::optional<std::string> password, const std::string& scheme) {
    if (user.empty() || user.find_first_of(":'\"\n\r #") != std::string::npos) {
        std::fprintf(stderr, "hainekoctl: pw: the user name must be non-empty, without : ' \" # or spaces\n");
        return kUsageError;
    }
    if (!password) {
        std::string first = read_secret("Password: ");
        std::string second = read_secret("Password again: ");
        if (first != second) {
            std::fprintf(stderr, "hainekoctl: pw: the passwords do not match\n");
            return 1;
        }
        password = first;
    }
    if (password->empty()) {
        std::fprintf(stderr, "hainekoctl: pw: the password is empty\n");
        return kUsageError;
    }
    std::printf("%s: '%s'\n", user.c_str(), hash_password(*password, scheme).c_str());
    return 0;
}

// help: every command with its options, or one command's.
int help(CLI::App& app, const std::string& topic) {
    if (!topic.empty()) {
        for (auto* sub : app.get_subcommands({}))
            if (sub->get_name() == topic) {
                std::cout << sub->help();
                return 0;
            }
        std::fprintf(stderr, "hainekoctl: help: no command %s (see hainekoctl help)\n", topic.c_str());
        return kUsageError;
    }
    std::cout << app.get_description() << "\n\nUsage: hainekoctl COMMAND [OPTIONS]\n";
    for (auto* sub : app.get_subcommands({})) std::cout << "\n" << sub->help();
    std::cout << "\nEnvironment: HAINEKO_ROOT (the root; default the working directory), HAINEKO_CONF, HAINEKO_AUTH,\n"
                 "HAINEKO_DEBUG. Exit status: 0 ok, 1 failed, 2 bad usage or configuration, 3 not running.\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"hainekoctl: Haineko, an HTTP API into ESMTP"};
    app.require_subcommand(0, 1);
    app.set_help_flag("-h,--help", "show the help");
    ServerFlags run_flags, start_flags, restart_flags, stop_flags, status_flags, reload_flags, check_flags;
    auto* run = app.add_subcommand("run", "run the server in the foreground (tests, systemd, containers)");
    add_server_flags(run, run_flags);
    auto* start = app.add_subcommand("start", "start the server in the background with a pid file");
    add_server_flags(start, start_flags);
    auto* restart_cmd = app.add_subcommand("restart", "stop the server, then start it again with the options it had");
    add_server_flags(restart_cmd, restart_flags);
    auto* stop = app.add_subcommand("stop", "stop the background server (SIGTERM; it finishes requests in flight)");
    stop->add_option("--pid-file", stop_flags.pid_file, "pid file (default ROOT/run/haineko.pid)");
    auto* reload = app.add_subcommand("reload", "reload every configuration file (SIGHUP to the running server)");
    reload->add_option("--pid-file", reload_flags.pid_file, "pid file (default ROOT/run/haineko.pid)");
    auto* status = app.add_subcommand("status", "tell whether the server runs (exit 0) or not (exit 3)");
    status->add_option("--pid-file", status_flags.pid_file, "pid file (default ROOT/run/haineko.pid)");
    auto* check_cmd = app.add_subcommand("check", "check the configuration and print every problem (exit 2 if any)");
    add_config_flags(check_cmd, check_flags);
    std::string dest;
    bool force = false;
    auto* setup_cmd = app.add_subcommand("setup", "write a working tree: etc/ with commented config files");
    setup_cmd->add_option("--dest", dest, "directory to write")->required();
    setup_cmd->add_flag("--force", force, "overwrite existing files");
    std::string pw_user, pw_scheme = "SSHA512";
    std::optional<std::string> pw_password;
    auto* pw = app.add_subcommand("pw", "print a password-file line for a user");
    pw->add_option("-u,--user", pw_user, "user name")->required();
    pw->add_option("-p,--password", pw_password, "password (asked twice when absent)");
    pw->add_option("-s,--scheme", pw_scheme, "SSHA, SSHA256 or SSHA512 (default)")
        ->check(CLI::IsMember({"SSHA", "SSHA256", "SSHA512"}));
    QueueCommand queue_cmd;
    add_queue_command(app, queue_cmd);
    std::string help_topic;
    auto* help_cmd = app.add_subcommand("help", "show this help, or one command's: hainekoctl help COMMAND");
    help_cmd->add_option("command", help_topic, "a command");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::string what = e.what();
        std::fprintf(stderr, "hainekoctl: %s (see hainekoctl help)\n", what.c_str());
        return kUsageError;
    }

    try {
        if (*run) return serve(run_flags, false);
        if (*start) return serve(start_flags, true);
        if (*restart_cmd) {
            std::vector<std::string> own;
            for (int i = 1; i < argc; ++i)
                if (std::string(argv[i]) == "restart") {
                    own.assign(argv + i + 1, argv + argc);
                    break;
                }
            return restart(restart_flags, own);
        }
        if (*stop || *status || *reload) {
            const ServerFlags& f = *stop ? stop_flags : *status ? status_flags : reload_flags;
            const std::string pid_file = pid_file_of(f, options_from_environment());
            pid_t pid = running_pid(pid_file);
            if (*status) {
                if (pid) std::printf("Haineko is running, pid %d\n", static_cast<int>(pid));
                else std::printf("Haineko is not running (no server holds %s)\n", pid_file.c_str());
                return pid ? 0 : kNotRunning;
            }
            if (!pid) {
                std::printf("Haineko is not running (no server holds %s)\n", pid_file.c_str());
                return *stop ? 0 : kNotRunning;
            }
            if (*reload) return reload_server(pid);
            bool stopped = stop_process(pid_file, 35);
            std::printf(stopped ? "Haineko stopped\n" : "Haineko did not stop in time\n");
            return stopped ? 0 : 1;
        }
        if (*check_cmd) return check(check_flags);
        if (*queue_cmd.app) return run_queue_command(queue_cmd);
        if (*setup_cmd) return setup(dest, force);
        if (*pw) return password_line(pw_user, pw_password, pw_scheme);
        return help(app, help_topic);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "hainekoctl: %s\n", e.what());
        return 1;
    }
}
