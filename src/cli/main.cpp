// hainekoctl: the one executable. Runs the server (run, start, stop, restart, status),
// writes a working tree (setup) and password lines (pw).
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/daemon.hpp"
#include "cli/setup_files.hpp"
#include "config/config.hpp"
#include "config/yaml_file.hpp"
#include "core/log.hpp"
#include "http/server.hpp"
#include "policy/password.hpp"

namespace {

using namespace haineko;
namespace fs = std::filesystem;

constexpr int kUsageError = 2;

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
};

void add_server_flags(CLI::App* cmd, ServerFlags& f) {
    cmd->add_option("-o,--host", f.host, "address to listen on (default 127.0.0.1)");
    cmd->add_option("-p,--port", f.port, "port to listen on (default 2794)")->check(CLI::Range(1, 65535));
    cmd->add_option("-C,--conf", f.conf, "haineko.cf to read (default $HAINEKO_CONF or ROOT/etc/haineko.cf)");
    cmd->add_flag("-A,--auth", f.auth, "require HTTP Basic auth (password file: $HAINEKO_AUTH or ROOT/etc/password)");
    cmd->add_flag("-d,--devel", f.devel, "development mode: GET /submit, NAME-debug tables, debug logs");
    cmd->add_option("-t,--threads", f.threads, "event loops (default: one per core)")->check(CLI::Range(0, 256));
    cmd->add_option("--pid-file", f.pid_file, "pid file for start/stop/status (default ROOT/run/haineko.pid)");
    cmd->add_option("--log-file", f.log_file, "log file of a started server (default ROOT/log/haineko.log)");
    cmd->add_option("-a,--app", f.app, "accepted for compatibility; ignored");
}

Options server_options(const ServerFlags& f) {
    Options o = options_from_environment();
    if (!f.conf.empty()) o.conf = f.conf;
    if (f.auth && !o.auth_file) o.auth_file = std::string();
    if (f.devel) o.devel = true;
    return o;
}

std::string pid_file_of(const ServerFlags& f, const Options& o) {
    return f.pid_file.empty() ? o.root + "/run/haineko.pid" : f.pid_file;
}

int serve(const ServerFlags& f, bool background) {
    Options options = server_options(f);
    std::shared_ptr<const Config> config;
    try {
        config = load_config(options);
    } catch (const ConfigError& e) {
        std::fprintf(stderr, "hainekoctl: %s\n", e.what());
        return kUsageError;
    }
    const std::string pid_file = pid_file_of(f, options);
    if (background) {
        if (pid_t pid = running_pid(pid_file)) {
            std::fprintf(stderr, "hainekoctl: already running, pid %d (%s)\n", static_cast<int>(pid), pid_file.c_str());
            return 1;
        }
        daemonize(pid_file, f.log_file.empty() ? options.root + "/log/haineko.log" : f.log_file);
    }
    configure_logging(*config);
    for (const auto& w : config->warnings) spdlog::warn("{}", w);
    int status = 0;
    try {
        Server server({f.host, static_cast<unsigned short>(f.port), f.threads}, options, config);
        status = server.run();
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        status = 1;
    }
    if (background) std::remove(pid_file.c_str());
    return status;
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
    std::printf("Haineko working tree ready in %s\nStart it with: HAINEKO_ROOT=%s hainekoctl run\n", dest.c_str(),
                dest.c_str());
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

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"hainekoctl: Haineko, an HTTP API into ESMTP"};
    app.require_subcommand(0, 1);
    ServerFlags run_flags, start_flags, restart_flags, stop_flags, status_flags;
    auto* run = app.add_subcommand("run", "run the server in the foreground (tests, systemd, containers)");
    add_server_flags(run, run_flags);
    auto* start = app.add_subcommand("start", "start the server in the background with a pid file");
    add_server_flags(start, start_flags);
    auto* restart = app.add_subcommand("restart", "stop, then start in the background");
    add_server_flags(restart, restart_flags);
    auto* stop = app.add_subcommand("stop", "stop the background server");
    stop->add_option("--pid-file", stop_flags.pid_file, "pid file (default ROOT/run/haineko.pid)");
    auto* status = app.add_subcommand("status", "tell whether the background server runs");
    status->add_option("--pid-file", status_flags.pid_file, "pid file (default ROOT/run/haineko.pid)");
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
    auto* help = app.add_subcommand("help", "show this help");

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
        if (*restart) {
            Options o = server_options(restart_flags);
            if (!stop_process(pid_file_of(restart_flags, o), 35)) {
                std::fprintf(stderr, "hainekoctl: the running server did not stop\n");
                return 1;
            }
            return serve(restart_flags, true);
        }
        if (*stop) {
            std::string pid_file = pid_file_of(stop_flags, options_from_environment());
            if (!running_pid(pid_file)) {
                std::printf("Haineko is not running\n");
                return 0;
            }
            bool stopped = stop_process(pid_file, 35);
            std::printf(stopped ? "Haineko stopped\n" : "Haineko did not stop in time\n");
            return stopped ? 0 : 1;
        }
        if (*status) {
            std::string pid_file = pid_file_of(status_flags, options_from_environment());
            if (pid_t pid = running_pid(pid_file)) {
                std::printf("Haineko is running, pid %d\n", static_cast<int>(pid));
                return 0;
            }
            std::printf("Haineko is not running\n");
            return 3;
        }
        if (*setup_cmd) return setup(dest, force);
        if (*pw) return password_line(pw_user, pw_password, pw_scheme);
        (void)help;
        // app.help() would describe the selected subcommand ("help" itself): show them all.
        std::cout << app.get_formatter()->make_help(&app, "", CLI::AppFormatMode::Normal);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "hainekoctl: %s\n", e.what());
        return 1;
    }
}
