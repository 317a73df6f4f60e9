// What every queue store must do, whatever its database: what is kept, what is due, how
// attempts settle, the API's actions, idempotency, counts, events, webhooks, and claims
// made due again when the store is opened after a crash. Included by one test file per
// store (tests/unit/sqlite_store_test.cpp, tests/pg/pg_store_test.cpp), which says how
// its store is opened.
#pragma once
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <memory>
#include <optional>

#include "queue/store.hpp"

using namespace haineko::queue;
namespace asio = boost::asio;

// Defined by the including file: a store, fresh (empty) or again on the same data; and the
// cleaning up after a test.
std::unique_ptr<Store> open_store_under_test(bool fresh);
void forget_store_under_test();

namespace {


// Runs one store call to its end on a loop of its own.
template <class T>
T await(asio::awaitable<T> call) {
    asio::io_context io;
    auto guard = asio::make_work_guard(io);
    std::optional<T> out;
    std::exception_ptr error;
    asio::co_spawn(io, std::move(call), [&](std::exception_ptr e, T value) {
        error = e;
        if (!e) out.emplace(std::move(value));
        guard.reset();
    });
    io.run();
    if (error) std::rethrow_exception(error);
    return std::move(*out);
}

void await(asio::awaitable<void> call) {
    asio::io_context io;
    auto guard = asio::make_work_guard(io);
    std::exception_ptr error;
    asio::co_spawn(io, std::move(call), [&](std::exception_ptr e) {
        error = e;
        guard.reset();
    });
    io.run();
    if (error) std::rethrow_exception(error);
}

constexpr Millis kT0 = 1'800'000'000'000;

NewMessage message(const std::string& id, std::vector<std::string> rcpts, const std::string& user = "") {
    NewMessage m;
    m.id = id;
    m.user = user;
    m.message_id = "<" + id + "@haineko.example.jp>";
    m.from = "kijitora@example.jp";
    m.mail = "bounces@example.jp";
    m.subject = "Nyaa";
    m.rcpts = std::move(rcpts);
    m.body = "Subject: Nyaa\r\n\r\nbody\r\n";
    m.created_at = kT0;
    return m;
}

Outcome outcome(const DueRecipient& d, RcptStatus status, const std::string& code) {
    Outcome o;
    o.message = d.message;
    o.position = d.position;
    o.rcpt = d.rcpt;
    o.status = status;
    if (status == RcptStatus::deferred) o.next_attempt_at = kT0 + 300'000;
    o.route = RouteFacts{"ESMTP", "127.0.0.1", 2525};
    o.reply = ReplyFacts{code, code[0] == '2' ? "2.0.0" : code[0] == '4' ? "4.3.0" : "5.1.1", "DATA", {"text"}, "127.0.0.1"};
    return o;
}


}  // namespace

class StoreContract : public ::testing::Test {
protected:
    std::unique_ptr<Store> store = open_store_under_test(true);

    ~StoreContract() override {
        store.reset();
        forget_store_under_test();
    }
    void reopen() {
        store.reset();
        store = open_store_under_test(false);
    }
};
TEST_F(StoreContract, KeepsAMessageWithItsRecipientsAndAcceptedEvent) {
    auto m = message("m1", {"neko@example.org", "tama@example.org"});
    m.tags = {"order"};
    m.metadata = {{"order_id", "1234"}};
    m.routes = {{"ESMTP", "127.0.0.1", 25}, {"ESMTP", "127.0.0.1", 25}};
    EXPECT_EQ(await(store->enqueue(m, std::nullopt)).kind, Enqueued::Kind::stored);
    auto found = await(store->find("m1", std::nullopt));
    ASSERT_TRUE(found);
    EXPECT_EQ(found->status, MessageStatus::pending);
    EXPECT_EQ(found->size, static_cast<std::int64_t>(m.body.size()));
    ASSERT_EQ(found->recipients.size(), 2u);
    EXPECT_EQ(found->recipients[0].rcpt, "neko@example.org");
    EXPECT_EQ(found->recipients[1].rcpt, "tama@example.org");
    EXPECT_EQ(found->recipients[0].status, RcptStatus::queued);
    EXPECT_EQ(found->recipients[0].next_attempt_at, kT0);
    ASSERT_TRUE(found->recipients[0].route);
    EXPECT_EQ(found->recipients[0].route->port, 25);
    EXPECT_EQ(found->tags, std::vector<std::string>{"order"});
    ASSERT_EQ(found->metadata.size(), 1u);
    EXPECT_EQ(found->metadata[0].second, "1234");
    ASSERT_EQ(found->events.size(), 1u);
    EXPECT_EQ(found->events[0].type, "accepted");
    EXPECT_FALSE(await(store->find("nope", std::nullopt)));
}

TEST_F(StoreContract, ClaimsOnlyWhatIsDueAndOnlyOnce) {
    auto later = message("later", {"a@example.org"});
    later.send_at = kT0 + 60'000;
    await(store->enqueue(message("now", {"b@example.org"}), std::nullopt));
    await(store->enqueue(later, std::nullopt));
    auto due = await(store->claim_due(kT0, 100));
    ASSERT_EQ(due.size(), 1u);
    EXPECT_EQ(due[0].id, "now");
    EXPECT_EQ(due[0].attempts, 0);
    EXPECT_TRUE(await(store->claim_due(kT0, 100)).empty());
    EXPECT_EQ(await(store->next_due()), kT0 + 60'000);
    auto loaded = await(store->load(due[0].message));
    ASSERT_TRUE(loaded);
    EXPECT_EQ(loaded->body, "Subject: Nyaa\r\n\r\nbody\r\n");
    EXPECT_EQ(loaded->mail, "bounces@example.jp");
    EXPECT_EQ(await(store->claim_due(kT0 + 60'000, 100)).size(), 1u);
    EXPECT_FALSE(await(store->next_due()));
}

TEST_F(StoreContract, SettlesDeliveredDeferredAndBounced) {
    await(store->enqueue(message("m", {"ok@example.org", "later@example.org", "no@example.org"}), std::nullopt));
    auto due = await(store->claim_due(kT0, 100));
    ASSERT_EQ(due.size(), 3u);
    Bounce bounce{due[0].message, message("dsn", {"bounces@example.jp"})};
    bounce.report.mail = "";
    bounce.report.is_bounce = true;
    await(store->settle({outcome(due[0], RcptStatus::delivered, "250"), outcome(due[1], RcptStatus::deferred, "451"),
                         outcome(due[2], RcptStatus::bounced, "550")},
                        {bounce}, kT0 + 1000));
    auto m = await(store->find("m", std::nullopt));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->status, MessageStatus::pending);  // one is deferred
    EXPECT_EQ(m->recipients[0].status, RcptStatus::delivered);
    EXPECT_EQ(m->recipients[0].attempts, 1);
    EXPECT_FALSE(m->recipients[0].next_attempt_at);
    EXPECT_EQ(m->recipients[1].status, RcptStatus::deferred);
    EXPECT_EQ(m->recipients[1].next_attempt_at, kT0 + 300'000);
    ASSERT_TRUE(m->recipients[1].last_reply);
    EXPECT_EQ(m->recipients[1].last_reply->code, "451");
    EXPECT_EQ(m->recipients[1].last_reply->message, std::vector<std::string>{"text"});
    EXPECT_EQ(m->recipients[2].status, RcptStatus::bounced);
    std::vector<std::string> types;
    for (const auto& e : m->events) types.push_back(e.type);
    EXPECT_EQ(types, (std::vector<std::string>{"accepted", "delivered", "deferred", "bounced", "dsn-sent"}));
    auto dsn = await(store->find("dsn", std::nullopt));
    ASSERT_TRUE(dsn);
    EXPECT_EQ(dsn->mail, "");
    // The deferred one comes back when due, and its success settles the message.
    EXPECT_TRUE(await(store->claim_due(kT0 + 299'999, 100)).size() == 1u);  // the DSN itself
    auto again = await(store->claim_due(kT0 + 300'000, 100));
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].attempts, 1);
    await(store->settle({outcome(again[0], RcptStatus::delivered, "250")}, {}, kT0 + 300'001));
    EXPECT_EQ(await(store->find("m", std::nullopt))->status, MessageStatus::partial);
}

TEST_F(StoreContract, HoldReleaseRetryAndCancel) {
    await(store->enqueue(message("m", {"a@example.org", "b@example.org"}), std::nullopt));
    auto held = await(store->act("m", std::nullopt, Action::hold, kT0 + 1));
    EXPECT_EQ(held.kind, ActResult::Kind::done);
    EXPECT_EQ(held.message.recipients[0].status, RcptStatus::held);
    EXPECT_TRUE(await(store->claim_due(kT0 + 10, 100)).empty());
    auto released = await(store->act("m", std::nullopt, Action::release, kT0 + 20));
    EXPECT_EQ(released.message.recipients[1].status, RcptStatus::queued);
    EXPECT_EQ(released.message.recipients[1].next_attempt_at, kT0 + 20);
    auto cancelled = await(store->act("m", std::nullopt, Action::cancel, kT0 + 30));
    EXPECT_EQ(cancelled.message.status, MessageStatus::cancelled);
    EXPECT_EQ(await(store->act("m", std::nullopt, Action::retry, kT0 + 40)).kind, ActResult::Kind::not_pending);
    EXPECT_EQ(await(store->act("x", std::nullopt, Action::retry, kT0 + 40)).kind, ActResult::Kind::not_found);
    std::vector<std::string> types;
    for (const auto& e : cancelled.message.events) types.push_back(e.type);
    EXPECT_EQ(types, (std::vector<std::string>{"accepted", "held", "held", "released", "released", "cancelled",
                                               "cancelled"}));
}

TEST_F(StoreContract, RetryMakesDeferredDueNow) {
    await(store->enqueue(message("m", {"a@example.org"}), std::nullopt));
    auto due = await(store->claim_due(kT0, 10));
    await(store->settle({outcome(due[0], RcptStatus::deferred, "451")}, {}, kT0 + 1));
    EXPECT_TRUE(await(store->claim_due(kT0 + 2, 10)).empty());
    await(store->act("m", std::nullopt, Action::retry, kT0 + 3));
    EXPECT_EQ(await(store->claim_due(kT0 + 3, 10)).size(), 1u);
}

TEST_F(StoreContract, CancelInFlightWaitsForTheAttempt) {
    await(store->enqueue(message("m", {"a@example.org", "b@example.org"}), std::nullopt));
    auto due = await(store->claim_due(kT0, 10));
    auto asked = await(store->act("m", std::nullopt, Action::cancel, kT0 + 1));
    EXPECT_EQ(asked.message.status, MessageStatus::pending);
    // A delivery that succeeds stays one; one that fails becomes cancelled.
    await(store->settle({outcome(due[0], RcptStatus::delivered, "250"), outcome(due[1], RcptStatus::deferred, "451")},
                        {}, kT0 + 2));
    auto m = await(store->find("m", std::nullopt));
    EXPECT_EQ(m->recipients[0].status, RcptStatus::delivered);
    EXPECT_EQ(m->recipients[1].status, RcptStatus::cancelled);
    EXPECT_EQ(m->status, MessageStatus::partial);
}

TEST_F(StoreContract, EachUserSeesOnlyTheirOwn) {
    await(store->enqueue(message("m", {"a@example.org"}, "alice"), std::nullopt));
    EXPECT_TRUE(await(store->find("m", std::string("alice"))));
    EXPECT_FALSE(await(store->find("m", std::string("bob"))));
    EXPECT_EQ(await(store->act("m", std::string("bob"), Action::cancel, kT0)).kind, ActResult::Kind::not_found);
    ListQuery q;
    q.user = "bob";
    EXPECT_TRUE(await(store->list(q)).messages.empty());
}

TEST_F(StoreContract, IdempotencyKeyReplaysOrConflicts) {
    IdempotencyClaim claim{"key-1", "hash-a", R"({"id":"m1"})"};
    EXPECT_EQ(await(store->enqueue(message("m1", {"a@example.org"}), claim)).kind, Enqueued::Kind::stored);
    auto replay = await(store->enqueue(message("m2", {"a@example.org"}), claim));
    EXPECT_EQ(replay.kind, Enqueued::Kind::replay);
    EXPECT_EQ(replay.answer, R"({"id":"m1"})");
    EXPECT_FALSE(await(store->find("m2", std::nullopt)));
    claim.body_hash = "hash-b";
    EXPECT_EQ(await(store->enqueue(message("m3", {"a@example.org"}), claim)).kind, Enqueued::Kind::conflict);
    // Another user's key is their own; a day later the key is free again.
    EXPECT_EQ(await(store->enqueue(message("m4", {"a@example.org"}, "bob"), claim)).kind, Enqueued::Kind::stored);
    auto late = message("m5", {"a@example.org"});
    late.created_at = kT0 + 24LL * 3600 * 1000 + 1;
    EXPECT_EQ(await(store->enqueue(late, claim)).kind, Enqueued::Kind::stored);
}

TEST_F(StoreContract, ListsNewestFirstByPagesAndStatus) {
    for (int i = 0; i < 5; ++i) await(store->enqueue(message("m" + std::to_string(i), {"a@example.org"}), std::nullopt));
    await(store->act("m3", std::nullopt, Action::cancel, kT0 + 1));
    ListQuery q;
    q.limit = 2;
    auto first = await(store->list(q));
    ASSERT_EQ(first.messages.size(), 2u);
    EXPECT_EQ(first.messages[0].id, "m4");
    EXPECT_EQ(first.messages[1].id, "m3");
    EXPECT_TRUE(first.messages[0].events.empty());
    ASSERT_TRUE(first.next);
    q.before = first.next;
    auto second = await(store->list(q));
    EXPECT_EQ(second.messages[0].id, "m2");
    q = ListQuery{};
    q.status = MessageStatus::cancelled;
    auto cancelled = await(store->list(q));
    ASSERT_EQ(cancelled.messages.size(), 1u);
    EXPECT_EQ(cancelled.messages[0].id, "m3");
    EXPECT_FALSE(cancelled.next);
}

TEST_F(StoreContract, CountsAndEvents) {
    auto m = message("m", {"a@example.org", "b@example.org"});
    m.routes = {{"ESMTP", "relay.example.net", 25}, {"ESMTP", "relay.example.net", 25}};
    await(store->enqueue(m, std::nullopt));
    await(store->enqueue(message("n", {"c@example.org"}), std::nullopt));
    await(store->act("n", std::nullopt, Action::hold, kT0 + 1));
    auto c = await(store->counts());
    EXPECT_EQ(c.pending, 2);
    EXPECT_EQ(c.queued, 2);
    EXPECT_EQ(c.held, 1);
    EXPECT_EQ(c.oldest_at, kT0);
    ASSERT_EQ(c.by_route.size(), 2u);
    EXPECT_EQ(c.by_route[0].host, "relay.example.net");
    EXPECT_EQ(c.by_route[0].pending, 2);
    auto page = await(store->events(0, 2));
    ASSERT_EQ(page.events.size(), 2u);
    EXPECT_EQ(page.events[0].id, "m");
    auto rest = await(store->events(page.next, 100));
    ASSERT_EQ(rest.events.size(), 1u);
    EXPECT_EQ(rest.events[0].type, "held");
    EXPECT_EQ(await(store->events(rest.next, 100)).events.size(), 0u);
}

TEST_F(StoreContract, CountsFollowEveryChangeOfStatusAndRoute) {
    auto m = message("m", {"a@example.org", "b@example.org", "c@example.org"});
    m.routes = {{"MX", "example.org", 25}, {"MX", "example.org", 25}, {"MX", "example.org", 25}};
    await(store->enqueue(m, std::nullopt));
    auto due = await(store->claim_due(kT0, 10));
    ASSERT_EQ(due.size(), 3u);
    // One delivered, two deferred on another route than the one given at acceptance.
    await(store->settle({outcome(due[0], RcptStatus::delivered, "250"), outcome(due[1], RcptStatus::deferred, "451"),
                         outcome(due[2], RcptStatus::deferred, "451")},
                        {}, kT0 + 1));
    auto c = await(store->counts());
    EXPECT_EQ(c.queued, 0);
    EXPECT_EQ(c.deferred, 2);
    ASSERT_EQ(c.by_route.size(), 1u);
    EXPECT_EQ(c.by_route[0].mailer, "ESMTP");
    EXPECT_EQ(c.by_route[0].host, "127.0.0.1");
    EXPECT_EQ(c.by_route[0].pending, 2);
    EXPECT_EQ(c.by_route[0].oldest_at, kT0);
    await(store->act("m", std::nullopt, Action::hold, kT0 + 2));
    c = await(store->counts());
    EXPECT_EQ(c.deferred, 0);
    EXPECT_EQ(c.held, 2);
    EXPECT_EQ(c.by_route[0].pending, 2);
    await(store->act("m", std::nullopt, Action::cancel, kT0 + 3));
    c = await(store->counts());
    EXPECT_EQ(c.held, 0);
    EXPECT_EQ(c.pending, 0);
    EXPECT_TRUE(c.by_route.empty());
    EXPECT_FALSE(c.oldest_at);
}

TEST_F(StoreContract, KeepsDsnParametersAndHeldMessages) {
    auto m = message("d1", {"neko@example.org", "tama@example.org"});
    m.dsn_ret = "FULL";
    m.dsn_envid = "ENV-1";
    m.rcpt_dsn = {RcptDsn{"NEVER", std::nullopt}, RcptDsn{"FAILURE,DELAY", "rfc822;tama@example.org"}};
    m.held = true;
    await(store->enqueue(m, std::nullopt));
    auto found = await(store->find("d1", std::nullopt));
    ASSERT_TRUE(found);
    EXPECT_EQ(found->recipients[0].status, RcptStatus::held);
    EXPECT_EQ(found->recipients[1].status, RcptStatus::held);
    EXPECT_TRUE(await(store->claim_due(kT0 + 1000, 10)).empty());
    reopen();
    auto key = await(store->act("d1", std::nullopt, Action::release, kT0));
    ASSERT_EQ(key.kind, ActResult::Kind::done);
    auto due = await(store->claim_due(kT0 + 1000, 10));
    ASSERT_EQ(due.size(), 2u);
    auto loaded = await(store->load(due[0].message));
    ASSERT_TRUE(loaded);
    EXPECT_EQ(loaded->dsn_ret, "FULL");
    EXPECT_EQ(loaded->dsn_envid, "ENV-1");
    ASSERT_EQ(loaded->rcpt_dsn.size(), 2u);
    EXPECT_EQ(loaded->rcpts[1], "tama@example.org");
    EXPECT_FALSE(loaded->rcpt_dsn[0].wants_failure_report());
    EXPECT_TRUE(loaded->rcpt_dsn[1].wants_failure_report());
    EXPECT_EQ(loaded->rcpt_dsn[1].orcpt, "rfc822;tama@example.org");
}

TEST_F(StoreContract, InFlightIsDueAgainAfterACrash) {
    await(store->enqueue(message("m", {"a@example.org", "b@example.org"}), std::nullopt));
    ASSERT_EQ(await(store->claim_due(kT0, 10)).size(), 2u);
    await(store->act("m", std::nullopt, Action::hold, kT0 + 1));  // asked while in flight
    reopen();
    auto m = await(store->find("m", std::nullopt));
    EXPECT_EQ(m->recipients[0].status, RcptStatus::held);
    await(store->act("m", std::nullopt, Action::release, kT0 + 2));
    EXPECT_EQ(await(store->claim_due(kT0 + 2, 10)).size(), 2u);
    reopen();
    EXPECT_EQ(await(store->claim_due(kT0 + 2, 10)).size(), 2u);
}

TEST_F(StoreContract, WebhookDeliveriesFanOutClaimAndSettle) {
    await(store->enqueue(message("old", {"a@example.org"}), std::nullopt));
    const std::vector<WebhookTarget> targets{{"http://a.example/", {}}, {"http://b.example/", {"held"}}};
    // The first look starts after what is there: turning webhooks on replays nothing.
    EXPECT_EQ(await(store->fan_out_webhooks(targets, kT0, 100)), 0);
    await(store->enqueue(message("m", {"a@example.org"}), std::nullopt));
    await(store->act("m", std::nullopt, Action::hold, kT0 + 1));
    EXPECT_EQ(await(store->fan_out_webhooks(targets, kT0 + 2, 100)), 2);  // accepted, held
    auto jobs = await(store->claim_webhooks(kT0 + 2, 60'000, 100));
    ASSERT_EQ(jobs.size(), 3u);  // a: accepted and held; b: held
    EXPECT_EQ(jobs[0].event.id, "m");
    EXPECT_TRUE(await(store->claim_webhooks(kT0 + 3, 60'000, 100)).empty());  // leased
    await(store->settle_webhook(jobs[0].n, std::nullopt));
    await(store->settle_webhook(jobs[1].n, kT0 + 10));
    auto again = await(store->claim_webhooks(kT0 + 10, 60'000, 100));
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].n, jobs[1].n);
    EXPECT_EQ(again[0].attempts, 1);
    reopen();  // durable: the leased one comes back after its lease
    EXPECT_EQ(await(store->claim_webhooks(kT0 + 60'002, 60'000, 100)).size(), 1u);
}


// haineko.kv: bytes kept as they are, whole numbers counted in one statement, expiry.
TEST_F(StoreContract, KeepsThePluginsKeys) {
    const std::string binary("a\0b\xff", 4);
    await(store->kv_set("k", binary, std::nullopt));
    EXPECT_EQ(await(store->kv_get("k", kT0)), binary);
    await(store->kv_set("n", "41", std::nullopt));
    EXPECT_EQ(await(store->kv_incr("n", 1, std::nullopt, kT0)), 42);
    EXPECT_EQ(await(store->kv_get("n", kT0)), "42");
    EXPECT_EQ(await(store->kv_incr("fresh", 5, kT0 + 1000, kT0)), 5);
    EXPECT_EQ(await(store->kv_incr("fresh", 1, kT0 + 9999, kT0 + 1)), 6);   // keeps its own expiry
    EXPECT_FALSE(await(store->kv_get("fresh", kT0 + 1000)));                // expired at kT0 + 1000
    EXPECT_EQ(await(store->kv_incr("fresh", 1, kT0 + 5000, kT0 + 1000)), 1);  // counts again from 0
    EXPECT_EQ(await(store->kv_incr("k", 2, std::nullopt, kT0)), 2);          // not a number: 0
    await(store->kv_set("gone", "x", kT0 + 10));
    await(store->kv_set("zero", "007", std::nullopt));                     // not a number as incr keeps it
    EXPECT_EQ(await(store->kv_get("zero", kT0)), "007");
    EXPECT_EQ(await(store->kv_expire(kT0 + 10)), 1);
    await(store->kv_del("n"));
    EXPECT_FALSE(await(store->kv_get("n", kT0)));
    reopen();  // durable
    EXPECT_EQ(await(store->kv_get("zero", kT0)), "007");
}
