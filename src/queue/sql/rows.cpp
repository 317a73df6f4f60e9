#include "queue/sql/rows.hpp"

#include "queue/sql/columns.hpp"

namespace haineko::queue::sql {

namespace {

constexpr const char* kMessageColumns =
    "SELECT id, \"user\", status, message_id, created_at, send_at, from_addr, mail, subject, size, tags, metadata "
    "FROM messages WHERE n = ?";

MessageState message_from(const Statement& st) {
    MessageState m;
    m.id = st.text(0);
    m.user = st.text(1);
    m.status = message_status_named(st.text(2)).value_or(MessageStatus::pending);
    m.message_id = st.text(3);
    m.created_at = st.integer(4);
    m.send_at = st.optional_integer(5);
    m.from = st.text(6);
    m.mail = st.text(7);
    m.subject = st.text(8);
    m.size = st.integer(9);
    m.tags = tags_from(st.text(10));
    m.metadata = metadata_from(st.text(11));
    return m;
}

RecipientState recipient_from(const Statement& st, bool with_reply) {
    RecipientState r;
    r.rcpt = st.text(0);
    r.status = rcpt_status_named(st.text(1)).value_or(RcptStatus::queued);
    r.attempts = static_cast<int>(st.integer(2));
    // A next attempt means something only while one will be made.
    if (r.status == RcptStatus::queued || r.status == RcptStatus::deferred) r.next_attempt_at = st.optional_integer(3);
    r.updated_at = st.integer(4);
    if (!st.is_null(5)) r.route = RouteFacts{st.text(5), st.text(6), static_cast<int>(st.integer(7))};
    if (with_reply) r.last_reply = reply_from(st.optional_text(8));
    return r;
}

}  // namespace

namespace {

// An event of the message whose key is key_sql: "?" (bound as parameter 5) or the SQL
// that names the message this connection inserted last.
Statement& event_insert(Db& db, const std::string& key_sql, Millis at, std::string_view type,
                        const std::optional<std::string>& rcpt, const std::optional<ReplyFacts>& reply) {
    auto& st = db.prepare("INSERT INTO events(at, type, rcpt, reply, message) VALUES(?, ?, ?, ?, " + key_sql + ")");
    st.bind(1, at).bind(2, type).bind(3, rcpt).bind(4, reply_column(reply));
    return st;
}

// The accepted event and the plugins' notes in one statement (one VM run for them all,
// however many plugins rewrote the message); at most kRows rows a statement.
void insert_acceptance_events(Db& db, const std::string& key_sql, std::optional<std::int64_t> key, const NewMessage& m) {
    constexpr std::size_t kRows = 8;
    struct Row {
        std::string_view type;
        std::optional<std::string> reply;
    };
    std::vector<Row> rows;
    rows.push_back({"accepted", reply_column(std::nullopt)});
    for (const auto& note : m.plugin_notes)  // the reply column carries the note (plugin_note_of, event_json.cpp)
        rows.push_back({"plugin", reply_column(ReplyFacts{note.answer, note.hook, note.plugin, {note.text}, ""})});
    for (std::size_t first = 0; first < rows.size(); first += kRows) {
        const std::size_t n = std::min(kRows, rows.size() - first);
        std::string sql = "INSERT INTO events(at, type, rcpt, reply, message) VALUES";
        for (std::size_t i = 0; i < n; ++i) sql += std::string(i ? "," : "") + "(?, ?, NULL, ?, " + key_sql + ")";
        auto& st = db.prepare(sql);
        int param = 0;
        for (std::size_t i = first; i < first + n; ++i) {
            st.bind(++param, m.created_at);
            st.bind(++param, rows[i].type);
            st.bind(++param, rows[i].reply);
            if (key) st.bind(++param, *key);
        }
        st.run();
    }
}

}  // namespace

std::optional<std::int64_t> insert_message(Db& db, const NewMessage& m, bool want_key) {
    auto& msg = db.prepare(
        "INSERT INTO messages(id, \"user\", status, message_id, from_addr, mail, subject, size, created_at, send_at, "
        "tags, metadata, is_bounce, body, dsn_ret, dsn_envid) VALUES(?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?) "
        "RETURNING n");
    msg.bind(1, m.id).bind(2, m.user).bind(3, m.message_id).bind(4, m.from).bind(5, m.mail).bind(6, m.subject);
    msg.bind(7, static_cast<std::int64_t>(m.body.size())).bind(8, m.created_at).bind(9, m.send_at);
    msg.bind(10, tags_column(m.tags)).bind(11, metadata_column(m.metadata));
    msg.bind(12, std::int64_t{m.is_bounce}).bind(13, m.dsn_ret).bind(14, m.dsn_envid);
    // In a pipeline the key is not read back: the statements that follow name it.
    std::optional<std::int64_t> key;
    std::string key_sql = want_key ? "" : db.last_message_key();
    if (key_sql.empty()) {
        if (!msg.step()) throw Error(false, "INSERT INTO messages returned no key");
        key = msg.integer(0);
        key_sql = "?";
    } else {
        msg.run();
    }
    msg.reset();
    // The body has a table of its own, so that the message row, written again at each
    // change of status (PostgreSQL copies the whole row), stays small. Messages kept
    // before it have theirs in messages.body (kMessageForAttempt reads either).
    auto& body = db.prepare("INSERT INTO bodies(body, message) VALUES(?, " + key_sql + ")");
    body.bind_blob(1, m.body);
    if (key) body.bind(2, *key);
    body.run();
    const Millis due = m.send_at.value_or(m.created_at);
    auto& rcpt = db.prepare(
        "INSERT INTO recipients(position, rcpt, status, next_attempt_at, updated_at, route_mailer, route_host, "
        "route_port, notify, orcpt, message) VALUES(?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, " + key_sql + ")");
    for (size_t i = 0; i < m.rcpts.size(); ++i) {
        rcpt.reset();
        rcpt.bind(1, static_cast<std::int64_t>(i)).bind(2, m.rcpts[i]).bind(3, due).bind(4, m.created_at);
        if (i < m.routes.size())
            rcpt.bind(5, m.routes[i].mailer).bind(6, m.routes[i].host).bind(7, std::int64_t{m.routes[i].port});
        if (i < m.rcpt_dsn.size()) rcpt.bind(8, m.rcpt_dsn[i].notify).bind(9, m.rcpt_dsn[i].orcpt);
        if (key) rcpt.bind(10, *key);
        rcpt.run();
    }
    insert_acceptance_events(db, key_sql, key, m);
    return key;
}

void add_event(Db& db, Millis at, std::string_view type, std::int64_t message, const std::optional<std::string>& rcpt,
               const std::optional<ReplyFacts>& reply) {
    event_insert(db, "?", at, type, rcpt, reply).bind(5, message).run();
}

void set_recipient_status(Db& db, std::int64_t message, std::int64_t position, RcptStatus status, Millis now) {
    auto& st = db.prepare(
        "UPDATE recipients SET status = ?, updated_at = ?, in_flight = 0, asked = NULL "
        "WHERE message = ? AND position = ?");
    st.bind(1, name_of(status)).bind(2, now).bind(3, message).bind(4, position).run();
}

void refresh_message_status(Db& db, std::int64_t message) {
    // Writers on other connections may settle this message's other recipients at the same
    // time: with its row locked first, the update below reads what they committed.
    if (db.locks_rows()) db.prepare("SELECT 1 FROM messages WHERE n = ? FOR UPDATE").bind(1, message).run();
    // message_status_of (records.cpp), in one statement that reads nothing back.
    auto& write = db.prepare(
        "UPDATE messages SET status = s.v FROM (SELECT CASE WHEN count(*) = 0 THEN 'cancelled' "
        "WHEN sum(CASE WHEN status = 'queued' OR status = 'deferred' OR status = 'held' THEN 1 ELSE 0 END) > 0 "
        "  THEN 'pending' "
        "WHEN sum(CASE WHEN status = 'delivered' THEN 1 ELSE 0 END) = count(*) THEN 'delivered' "
        "WHEN sum(CASE WHEN status = 'bounced' THEN 1 ELSE 0 END) = count(*) THEN 'bounced' "
        "WHEN sum(CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END) = count(*) THEN 'cancelled' "
        "ELSE 'partial' END AS v FROM recipients WHERE message = ?1) AS s WHERE n = ?1 AND status <> s.v");
    write.bind(1, message).run();
}

std::optional<std::int64_t> message_key(Db& db, const std::string& id, const std::optional<std::string>& user) {
    auto& st = db.prepare("SELECT n, \"user\" FROM messages WHERE id = ?");
    st.bind(1, id);
    if (!st.step()) return std::nullopt;
    if (user && st.text(1) != *user) return std::nullopt;
    return st.integer(0);
}

Event feed_event_from(const Statement& st, int first) {
    Event e;
    e.seq = st.integer(first);
    e.at = st.integer(first + 1);
    e.type = st.text(first + 2);
    e.id = st.text(first + 3);
    e.rcpt = st.optional_text(first + 4);
    e.reply = reply_from(st.optional_text(first + 5));
    e.tags = tags_from(st.text(first + 6));
    e.metadata = metadata_from(st.text(first + 7));
    return e;
}

MessageState read_message(Db& db, std::int64_t message, bool with_details) {
    auto& head = db.prepare(kMessageColumns);
    head.bind(1, message);
    if (!head.step()) return {};
    MessageState m = message_from(head);
    head.reset();
    auto& rcpts = db.prepare(
        "SELECT rcpt, status, attempts, next_attempt_at, updated_at, route_mailer, route_host, route_port, last_reply "
        "FROM recipients WHERE message = ? ORDER BY position");
    rcpts.bind(1, message);
    while (rcpts.step()) m.recipients.push_back(recipient_from(rcpts, with_details));
    rcpts.reset();
    if (!with_details) return m;
    auto& events = db.prepare("SELECT seq, at, type, rcpt, reply FROM events WHERE message = ? ORDER BY seq");
    events.bind(1, message);
    while (events.step()) {
        Event e;
        e.seq = events.integer(0);
        e.at = events.integer(1);
        e.type = events.text(2);
        e.id = m.id;
        e.rcpt = events.optional_text(3);
        e.reply = reply_from(events.optional_text(4));
        m.events.push_back(std::move(e));
    }
    events.reset();
    return m;
}

}  // namespace haineko::queue::sql
