// The loaded configuration: haineko.cf plus its table files, as one immutable snapshot.
// A reload builds a new snapshot; requests keep the one they started with.
#pragma once
#include <boost/json.hpp>
#include <yaml-cpp/yaml.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/cidr.hpp"

namespace haineko {

// Where to find the files, from the command line and the environment.
struct Options {
    std::string root;                      // $HAINEKO_ROOT or the working directory
    std::string root_source;               // "HAINEKO_ROOT" when named there, else ""
    std::string conf;                      // -C / $HAINEKO_CONF; empty: ROOT/etc/haineko.cf
    std::string conf_source;               // "-C" or "HAINEKO_CONF" when named there, else ""
    std::optional<std::string> auth_file;  // -A / $HAINEKO_AUTH: Basic auth on with this file
    bool devel = false;                    // -d / $HAINEKO_DEBUG
    int listen_port = 0;                   // the HTTP port, for the default node id
    std::vector<std::string> smtp_listen;  // --smtp HOST:PORT: relay listeners without TLS
};

// A numeric setting keeps what was written, so that a non-number can be answered with
// conf/not-looks-like-number when it is needed, as the original did.
struct NumberSetting {
    long long value = 0;
    bool valid = true;
};

struct Route {
    std::string key = "(built-in default)";  // the table entry it came from
    std::string origin;                      // "FILE:LINE" of that entry, for messages
    std::string mailer_origin;               // "FILE:LINE" of its mailer key (or of the entry)
    std::string auth_origin;                 // "FILE:LINE" of its auth key (or of the entry)
    std::string mailer = "ESMTP";
    std::string host = "127.0.0.1";
    int port = 25;
    std::string auth;  // authinfo key
    int retry = 0;
    int sleep = 5;
    int timeout = 59;
    bool starttls = false;
    bool ssl = false;
    bool tls_verify = true;
    bool auth_plaintext = false;
    bool disabled = false;
    std::string path;             // File mailer: the directory
    std::string socket;           // LMTP mailer: a Unix socket path, used instead of host and port
    // The queue's retry rules for this route (seconds), when they differ from queue:'s.
    std::optional<long long> min_backoff, max_backoff, max_lifetime;
    boost::json::object entry;    // every key as written, for mailers with keys of their own
};

struct Credential {
    std::string username;
    std::string password;
};

struct RelayHosts {
    bool open_relay = false;
    std::vector<Cidr> networks;
};

struct RecipientPolicy {
    bool open_relay = false;
    std::set<std::string> domains;     // lower-cased
    std::set<std::string> addresses;   // domain part lower-cased
};

// A domain the inbound listeners take mail for (etc/inbound): where its mail goes, and
// which of its addresses exist.
struct InboundDomain {
    Route route;
    enum class Recipients { any, listed, backend } recipients = Recipients::any;
    std::set<std::string> local_parts;  // listed: lower-cased
    std::set<std::string> addresses;    // listed: whole addresses, lower-cased
};

struct TableFile {
    std::string name;          // "mailertable", "authinfo", ...
    std::optional<std::string> path;  // null when the file is absent
    boost::json::value data;   // null when absent
};

struct Settings {
    std::string hostname;
    // What we say in EHLO: the hostname when it is a full domain name, else the hostname
    // with ".localdomain" (as Postfix does), since relays refuse an EHLO without a dot.
    std::string helo_name;
    NumberSetting max_message_size{4194304};
    NumberSetting max_rcpts_per_message{4};
    NumberSetting max_workers{4};
    bool syslog_enabled = false;
    std::string syslog_facility = "local2";
    std::vector<Cidr> trusted_proxies;
    std::vector<std::string> trusted_proxies_text;
    // HTTP limits (our additions)
    std::size_t max_request_size = 0;  // 0: derived from max_message_size
    std::size_t max_header_size = 16 * 1024;
    int read_timeout = 30;  // seconds to read one whole request
    int idle_timeout = 30;  // seconds a keep-alive connection may wait for the next one
    std::size_t max_connections = 0;  // HTTP connections served at once; 0: most of the descriptor limit
    // SMTP relay settings (our additions)
    std::vector<std::string> dns_servers;
    std::string tls_ca_file;
    int max_sessions_per_host = 8;
    int max_messages_per_session = 0;  // 0: no limit
    int pool_idle_timeout = 30;
};

// The durable queue (api-v1.md, "Configuration").
struct QueueSettings {
    std::string store = "sqlite";   // or "postgresql"
    std::string path;               // absolute; ROOT/var/queue.db unless queue.path says
    std::string url;                // postgresql: the database (queue.store, or HAINEKO_QUEUE_URL)
    std::string url_source;         // where the URL came from, for messages
    long long min_backoff = 300;    // seconds, as Postfix's minimal_backoff_time
    long long max_backoff = 4000;   // maximal_backoff_time
    long long max_lifetime = 432000;  // maximal_queue_lifetime: 5 days
    bool bounce = true;             // send delivery status notifications
    int max_concurrency = 64;       // deliveries in flight for the whole process
};

// An SMTP listener (smtp.listen, or --smtp).
struct SmtpListener {
    enum class Tls { none, starttls, implicit };
    std::string address;  // as written: "127.0.0.1:2525", "[::1]:2525"
    std::string host;     // without brackets
    unsigned short port = 0;
    bool submission = false;  // mode: submission (AUTH before MAIL) or relay
    bool inbound = false;     // mode: inbound (anyone, for the domains of etc/inbound)
    const char* mode_name() const { return inbound ? "inbound" : submission ? "submission" : "relay"; }
    const char* tls_name() const { return tls == Tls::none ? "none" : tls == Tls::starttls ? "starttls" : "implicit"; }
    Tls tls = Tls::none;
    std::string origin;  // FILE:LINE, or "--smtp"
    bool tls_given = false;  // the entry said tls (an inbound one offers STARTTLS otherwise)
};

// The smtp: section: Haineko as an SMTP server (issue 10).
struct SmtpSettings {
    std::vector<SmtpListener> listen;
    std::string tls_cert;  // absolute paths; empty when not set
    std::string tls_key;
    int command_timeout = 300;  // seconds (RFC 5321 4.5.3.2)
    int data_timeout = 600;
    int max_rcpts_per_transaction = 100;
    bool auth_requires_tls = true;
    bool received_auth_user = false;  // name the authenticated user in Received
    // Milliseconds the greeting waits; a client that talks in that time is refused.
    int greet_pause = 100;
};

// A milter (milters:): a filter spoken to by the milter protocol on every intake.
struct MilterSettings {
    enum class OnError { tempfail, accept, reject };
    std::string socket;  // as written: "inet:8891@127.0.0.1", "inet:127.0.0.1:8891", "unix:/path"
    std::string host;    // inet: an address or a name
    unsigned short port = 0;
    std::string path;    // unix: the socket file
    int timeout = 10;    // seconds for each step
    OnError on_error = OnError::tempfail;  // when it cannot be reached, times out or breaks the protocol
    std::string origin;  // FILE:LINE
};

// One plugin of etc/plugins (spec/plugins.md, "Files"), with its settings file read.
struct PluginFile {
    std::string name;                 // as listed: "rcpt_to.extension"
    std::string path;                 // ROOT/plugins/NAME.lua; "" when the bundled one is meant
    std::string code;                 // that file's text ("" for a bundled one: the host has it)
    boost::json::object config;       // etc/plugins.d/NAME.yaml as a whole ({} without one)
    bool on_error_cont = false;       // on_error: cont (else denysoft)
    double timeout = 30;              // seconds for one hook call, its waits included
    long long max_instructions = 10'000'000;
    std::string output;               // the file haineko.output() appends to ("" for none)
    std::string origin;               // "etc/plugins:LINE", for messages
};

struct PluginSettings {
    std::vector<PluginFile> list;  // in the order they run
    std::string dir;               // ROOT/plugins: the operator's plugins and modules
    long long memory_mb = 64;      // the cap of each Lua state
};

struct V1Settings {
    int max_recipients = 100;
};

// Where events are POSTed, signed with the secret.
struct Webhook {
    std::string url;
    std::string secret;
    std::vector<std::string> events;  // the event types sent; all when the key is absent
    std::string origin;               // FILE:LINE, for messages
};

struct Config {
    Options options;
    std::string conf_path;  // the haineko.cf read, empty when built-in defaults
    // This server's name in X-Haineko-Loop: the top-level node_id key, else hostname:port,
    // so that two servers on one host do not take each other for a loop.
    std::string node_id;
    Settings smtpd;
    QueueSettings queue;
    V1Settings v1;
    SmtpSettings smtp;
    std::vector<MilterSettings> milters;  // in the order they run
    PluginSettings plugins;
    std::vector<Webhook> webhooks;
    boost::json::value conf_data;  // haineko.cf as read (or the defaults), for /conf
    std::map<std::string, Route> mailertable;
    std::map<std::string, Route> sendermt;
    std::map<std::string, Credential> authinfo;
    RelayHosts relayhosts;
    RecipientPolicy recipients;
    std::map<std::string, InboundDomain> inbound;  // by lower-cased domain
    bool basic_auth = false;
    // user -> stored hash: the password file, for Basic auth (basic_auth) and SMTP AUTH
    std::map<std::string, std::string> passwords;
    std::vector<TableFile> tables;                 // for /conf, in a fixed order
    std::vector<std::string> warnings;             // said once at load time
    // Settings that load but cannot work (a number that is not one): logged at load,
    // errors for `hainekoctl check`.
    std::vector<std::string> problems;

    std::size_t request_body_limit() const;
};

// Reads everything. Throws ConfigError ("file:line: problem") for a broken file, and for
// a root or a config file that was named but is not there: only a root with no etc/ at
// all runs on built-in defaults.
std::shared_ptr<const Config> load_config(const Options& options);

// One entry of mailertable (or of inbound) read from its node; throws ConfigError.
Route parse_route(const std::string& file, const std::string& key, const YAML::Node& node, const Options& options);

// A route from mailertable's keys (a plugin's get_route table); throws ConfigError for a
// wrong value, naming name.
Route route_from_json(const boost::json::object& entry, const std::string& name, const Options& options);

// Options from the environment: HAINEKO_ROOT, HAINEKO_CONF, HAINEKO_AUTH, HAINEKO_DEBUG.
Options options_from_environment();

// The host's name, as the default EHLO and Message-Id domain.
std::string system_hostname();

// Where the configuration came from, for the startup line: the haineko.cf read, or why
// there is none.
std::string config_source_text(const Config& config);

// Holds the current snapshot; reload swaps it atomically.
class ConfigHolder {
public:
    explicit ConfigHolder(std::shared_ptr<const Config> initial) : current_(std::move(initial)) {}
    std::shared_ptr<const Config> get() const {
        std::lock_guard lock(mutex_);
        return current_;
    }
    void set(std::shared_ptr<const Config> next) {
        std::lock_guard lock(mutex_);
        current_ = std::move(next);
    }

private:
    mutable std::mutex mutex_;
    std::shared_ptr<const Config> current_;
};

}  // namespace haineko
