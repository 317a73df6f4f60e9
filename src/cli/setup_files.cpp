#include "cli/setup_files.hpp"

namespace haineko {

std::vector<SetupFile> setup_files() {
    return {
        {"etc/haineko.cf", R"(# haineko.cf: the main configuration of Haineko (YAML; JSON works too).
# Reload it and every table below with SIGHUP (hainekoctl restart also works).
smtpd:
    # EHLO name and the domain of Message-Id; also this server's name in X-Haineko-Loop.
    # Empty: the host's name.
    hostname: ''

    # Largest message body in bytes (0: no limit), and most recipients per submission.
    max_message_size: 4194304
    max_rcpts_per_message: 4

    # Recipients of one submission relayed at the same time.
    max_workers: 4

    # Table files. A name without a leading / is looked up in this etc/ directory.
    mailer:
        auth: 'authinfo'      # credentials for SMTP AUTH and cloud APIs
        mail: 'sendermt'      # routes by sender domain
        rcpt: 'mailertable'   # routes by recipient domain
    access:
        conn: 'relayhosts'    # who may submit
        rcpt: 'recipients'    # to whom

    # Proxies whose X-Forwarded-For is believed. None by default: the peer address counts.
    # trusted_proxies: [ '127.0.0.1', '10.0.0.0/8' ]
    trusted_proxies: []

    # HTTP limits: header bytes, request body bytes (0: six times max_message_size plus 256 KiB,
    # since JSON escapes grow a body up to six times),
    # seconds to read one request, seconds a keep-alive connection may idle.
    # max_header_size: 16384
    # max_request_size: 0
    # read_timeout: 30
    # idle_timeout: 30

    syslog:
        disabled: 1
        facility: 'local2'

# Haineko as an SMTP server: each listener takes mail into the queue, with the same
# relayhosts and recipients as HTTP. A relay listener lets clients in relayhosts (or
# authenticated ones) relay; a submission listener wants AUTH before MAIL. AUTH PLAIN and
# LOGIN check etc/password (hainekoctl pw makes its lines). `hainekoctl run --smtp
# 127.0.0.1:2525` adds a relay listener without TLS for a quick try.
# smtp:
#     listen:
#         - address: '127.0.0.1:2525'   # host:port; [::1]:2525 for IPv6
#           mode: 'relay'               # relay | submission
#           tls: 'starttls'             # none | starttls | implicit
#         - address: '0.0.0.0:587'
#           mode: 'submission'
#           tls: 'starttls'
#     tls_cert: 'etc/tls/cert.pem'      # PEM chain; relative to ROOT unless absolute
#     tls_key: 'etc/tls/key.pem'
#     command_timeout: 300              # seconds to wait for a command (RFC 5321 4.5.3.2)
#     data_timeout: 600                 # seconds for DATA or a BDAT chunk
#     max_rcpts_per_transaction: 100
#     auth_requires_tls: 1              # AUTH only over TLS (538 5.7.11 before it)
#     received_auth_user: 0             # 1: name the authenticated user in Received
#     greet_pause: 100                  # ms before the greeting; a client that talks first is refused
)",
         false},
        {"etc/mailertable", R"(# mailertable: routes by the recipient's domain; "default" takes the rest.
# Keys of an entry:
#   mailer:   ESMTP, MX, LMTP, Haineko, Discard, Screen, File (or a directory path starting with /)
#   host, port, auth (a key of authinfo), retry, sleep, timeout, starttls, ssl, tls_verify
#   path:     the File mailer's directory (relative: to the Haineko root)
#   disabled: 1 skips the entry
#
# To relay through a real SMTP server, replace "default" with, for example:
#   default:
#       mailer: 'ESMTP'
#       host: 'smtp.example.net'
#       port: 587
#       auth: 'smarthost'
#       starttls: 1
#
# Until then, every message is written as a file into the outbox directory.
default:
    mailer: 'File'
    path: 'outbox'
)",
         false},
        {"etc/sendermt", R"(# sendermt: routes by the sender's domain, used when mailertable has no entry for the
# recipient's domain. Same keys as mailertable.
#
# example.org:
#     mailer: 'ESMTP'
#     host: '192.0.2.1'
#     port: 25
)",
         false},
        {"etc/authinfo", R"(# authinfo: credentials, named by a route's "auth" key. Keep this file mode 0600.
#
# smarthost:
#     username: 'relay-user'
#     password: 'secret'
)",
         true},
        {"etc/relayhosts", R"(# relayhosts: addresses and networks (IPv4, IPv6, CIDR) that may submit.
# open-relay: 1 lets anyone submit; never do that on a public address.
open-relay: 0
relayhosts:
    - '127.0.0.1'
    - '::1'
)",
         false},
        {"etc/recipients", R"(# recipients: the recipient addresses and domains that may be relayed to.
# open-relay: 1 accepts every recipient.
open-relay: 0
domainpart:
    - 'example.jp'
    - 'example.com'
    - 'example.org'
    - 'example.net'
recipients: []
)",
         false},
        {"etc/password", R"(# password: users for HTTP Basic auth, used when Haineko runs with -A or HAINEKO_AUTH.
# Make a line with: hainekoctl pw -u USER
#
# haineko: '{SSHA512}...'
)",
         true},
    };
}

}  // namespace haineko
