// The queue store on PostgreSQL keeps the contract every store keeps
// (tests/store/store_contract.hpp), against the fixture's real PostgreSQL 15; and what
// only a shared store does: a migration that runs once, and leases.
#include "pg_url.hpp"
#include "queue/postgres/pg_db.hpp"
#include "store_contract.hpp"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace {
constexpr const char* kNode = "node-a";

void empty_database() {
    haineko::queue::postgres::Db db(test_url());
    db.exec("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
}
}  // namespace

std::unique_ptr<Store> open_store_under_test(bool fresh) {
    if (fresh) empty_database();
    return open_postgres_store({"", test_url(), kNode});
}

void forget_store_under_test() {}

TEST(PgStore, AnotherNodesLeaseIsTakenOverOnlyOnceItRunsOut) {
    empty_database();
    auto a = open_postgres_store({"", test_url(), "node-a"});
    auto b = open_postgres_store({"", test_url(), "node-b"});
    await(a->enqueue(message("m", {"x@example.org", "y@example.org"}), std::nullopt));
    const auto claimed = await(a->claim_due(kT0, 10));
    ASSERT_EQ(claimed.size(), 2u);
    EXPECT_TRUE(await(b->claim_due(kT0 + 1000, 10)).empty());  // node-a holds them
    // node-a is gone (no settle, no renewal): once its lease ran out, node-b takes them.
    a.reset();
    EXPECT_TRUE(await(b->claim_due(kT0 + 30'000, 10)).empty());
    const auto taken = await(b->claim_due(kT0 + 61'000, 10));
    ASSERT_EQ(taken.size(), 2u);
    Outcome o;
    o.message = taken[0].message;
    o.position = taken[0].position;
    o.rcpt = taken[0].rcpt;
    o.status = RcptStatus::delivered;
    await(b->settle({o}, {}, kT0 + 62'000));
    auto m = await(b->find("m", std::nullopt));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->recipients[0].status, RcptStatus::delivered);
    EXPECT_EQ(m->recipients[0].attempts, 1);
}

TEST(PgStore, ARestartedNodeTakesBackOnlyItsOwnClaims) {
    empty_database();
    auto a = open_postgres_store({"", test_url(), "node-a"});
    auto b = open_postgres_store({"", test_url(), "node-b"});
    await(a->enqueue(message("ma", {"x@example.org"}), std::nullopt));
    ASSERT_EQ(await(a->claim_due(kT0, 1)).size(), 1u);
    await(a->enqueue(message("mb", {"y@example.org"}), std::nullopt));
    ASSERT_EQ(await(b->claim_due(kT0, 10)).size(), 1u);
    a.reset();
    a = open_postgres_store({"", test_url(), "node-a"});  // node-a restarts
    const auto again = await(a->claim_due(kT0 + 1000, 10));
    ASSERT_EQ(again.size(), 1u);  // its own; node-b's is still node-b's
    EXPECT_EQ(again[0].id, "ma");
}

// A hold that meets a claim still being committed (on another connection: this node's
// claims have one of their own, and other nodes claim too) waits for it, then finds the
// recipient in flight and asks its attempt; holding it under the attempt would lose the
// attempt's outcome (the settle finds nothing in flight) and deliver it again at release.
TEST(PgStore, AHoldMeetingAClaimBeingCommittedAsksTheAttempt) {
    empty_database();
    auto store = open_postgres_store({"", test_url(), kNode});
    await(store->enqueue(message("m", {"x@example.org"}), std::nullopt));
    haineko::queue::postgres::Db claim(test_url());
    claim.exec("BEGIN");
    claim.exec("UPDATE recipients SET in_flight = 1, lease_node = 'node-b', lease_until = 9999999999999");
    std::thread commit_later([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        claim.exec("COMMIT");
    });
    const ActResult held = await(store->act("m", std::nullopt, Action::hold, kT0 + 1));
    commit_later.join();
    EXPECT_EQ(held.kind, ActResult::Kind::done);
    haineko::queue::postgres::Db db(test_url());
    auto& row = db.prepare("SELECT status, in_flight, asked FROM recipients");
    ASSERT_TRUE(row.step());
    EXPECT_EQ(row.text(0), "queued");
    EXPECT_EQ(row.integer(1), 1);
    EXPECT_EQ(row.text(2), "hold");
}

TEST(PgStore, NodesStartingTogetherMigrateOnce) {
    empty_database();
    std::vector<std::thread> nodes;
    std::atomic<int> opened{0}, failed{0};
    for (int i = 0; i < 4; ++i)
        nodes.emplace_back([&, i] {
            try {
                auto s = open_postgres_store({"", test_url(), "node-" + std::to_string(i)});
                ++opened;
            } catch (const std::exception&) {
                ++failed;
            }
        });
    for (auto& t : nodes) t.join();
    EXPECT_EQ(opened, 4);
    EXPECT_EQ(failed, 0);
    haineko::queue::postgres::Db db(test_url());
    auto& versions = db.prepare("SELECT count(*), max(version) FROM haineko_schema");
    ASSERT_TRUE(versions.step());
    EXPECT_EQ(versions.integer(0), 1);
    EXPECT_EQ(versions.integer(1), 3);
}

// A queue of schema 1 kept each body in its message's row; migrated, those messages are
// delivered with their bodies (read with a claim, or alone), and new ones keep theirs apart.
TEST(PgStore, ASchemaOneQueueKeepsItsBodies) {
    empty_database();
    auto old = message("old", {"a@example.org"});
    old.body = "Subject: old\r\n\r\nkept in the row\r\n";
    await(open_postgres_store({"", test_url(), kNode})->enqueue(old, std::nullopt));
    {
        haineko::queue::postgres::Db db(test_url());
        db.exec("UPDATE messages SET body = (SELECT body FROM bodies WHERE message = n); DROP TABLE bodies;"
                "UPDATE haineko_schema SET version = 1");
    }
    auto a = open_postgres_store({"", test_url(), "node-a"});
    auto b = open_postgres_store({"", test_url(), "node-b"});
    auto fresh = message("new", {"b@example.org"});
    fresh.body = "Subject: new\r\n\r\nkept apart\r\n";
    await(a->enqueue(fresh, std::nullopt));
    const auto due = await(a->claim_due(kT0 + 1000, 10));
    ASSERT_EQ(due.size(), 2u);
    for (const auto& d : due) {
        const std::string& body = d.id == "old" ? old.body : fresh.body;
        auto claimed = await(a->load(d.message));  // read with the claim
        ASSERT_TRUE(claimed);
        EXPECT_EQ(claimed->body, body);
        auto alone = await(b->load(d.message));  // read on its own
        ASSERT_TRUE(alone);
        EXPECT_EQ(alone->body, body);
    }
}

TEST(PgStore, ANodeHearsOfWorkAnotherNodeAccepted) {
    empty_database();
    auto a = open_postgres_store({"", test_url(), "node-a"});
    auto b = open_postgres_store({"", test_url(), "node-b"});
    std::atomic<int> woken{0};
    a->on_new_work([&] { ++woken; });
    const auto until = [&](int n) {
        for (int i = 0; i < 100 && woken < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return woken.load();
    };
    ASSERT_GE(until(1), 1);  // once listening: work may have come before
    const int before = woken;
    await(b->enqueue(message("m", {"x@example.org"}), std::nullopt));
    EXPECT_GT(until(before + 1), before);
    a->on_new_work(nullptr);  // stops: no call after this returns
    const int stopped = woken;
    await(b->enqueue(message("m2", {"y@example.org"}), std::nullopt));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(woken, stopped);
}

// The feed's race: an event committed late (a slow transaction of another node) must get
// a number above every number a reader could have seen before it was committed.
TEST(PgStore, AnEventCommittedLateIsNumberedAfterWhatWasSeen) {
    empty_database();
    auto store = open_postgres_store({"", test_url(), "node-a"});
    await(store->enqueue(message("first", {"x@example.org"}), std::nullopt));
    haineko::queue::postgres::Db slow(test_url());
    slow.exec("BEGIN");
    slow.exec("INSERT INTO events(at, type, message, rcpt, reply) SELECT 1, 'held', n, NULL, NULL FROM messages");
    await(store->enqueue(message("second", {"y@example.org"}), std::nullopt));
    const EventPage seen = await(store->events(0, 100));
    ASSERT_EQ(seen.events.size(), 2u);  // the two accepted; the slow one is not committed
    EXPECT_EQ(seen.events[1].id, "second");
    slow.exec("COMMIT");
    await(store->enqueue(message("third", {"z@example.org"}), std::nullopt));  // numbers what is there
    const EventPage after = await(store->events(seen.next, 100));
    ASSERT_EQ(after.events.size(), 2u) << "the late event was passed over";
    EXPECT_EQ(after.events[0].type, "held");
    EXPECT_GT(after.events[0].seq, seen.next);
    EXPECT_EQ(after.events[1].id, "third");
}

TEST(PgStore, EventsOfSeveralNodesAreNumberedOnceInOneOrder) {
    empty_database();
    auto a = open_postgres_store({"", test_url(), "node-a"});
    auto b = open_postgres_store({"", test_url(), "node-b"});
    std::thread ta([&] {
        for (int i = 0; i < 30; ++i) await(a->enqueue(message("a" + std::to_string(i), {"x@example.org"}), std::nullopt));
    });
    std::thread tb([&] {
        for (int i = 0; i < 30; ++i) await(b->enqueue(message("b" + std::to_string(i), {"x@example.org"}), std::nullopt));
    });
    ta.join();
    tb.join();
    const EventPage page = await(b->events(0, 1000));
    ASSERT_EQ(page.events.size(), 60u);
    for (std::size_t i = 1; i < page.events.size(); ++i) EXPECT_LT(page.events[i - 1].seq, page.events[i].seq);
    // Right after its 202 a message shows its event with its number.
    const auto m = await(a->find("a29", std::nullopt));
    ASSERT_TRUE(m);
    ASSERT_EQ(m->events.size(), 1u);
    EXPECT_GT(m->events[0].seq, 0);
}

TEST(PgStore, ADatabaseThatIsNotThereIsUnavailable) {
    EXPECT_THROW(open_postgres_store({"", "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", "n"}),
                 StoreUnavailable);
}
