// What several nodes sharing one queue do differently from one process: a claim is a
// lease (this node, until when), taken with FOR UPDATE SKIP LOCKED so that nodes never
// wait for each other's rows; a lease that ran out (its node died) is due again; a live
// node keeps renewing its own.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "queue/records.hpp"
#include "queue/sql/db.hpp"
#include "queue/sql/sql_store.hpp"

namespace haineko::queue::postgres {

// Up to limit recipients due at now, leased to node until lease_until, oldest due first;
// with expired, the recipients whose lease ran out (their node died) first. Their
// messages come along, read in the same batch, each with its claimed recipients.
sql::Claimed claim_due(sql::Db& db, const std::string& node, Millis now, Millis lease_until, int limit, bool expired);

// Recipients in flight by node, with the latest end of each node's leases.
std::vector<NodeLease> in_flight_by_node(sql::Db& db);

// Moves the end of every lease node holds to lease_until; returns how many.
std::int64_t renew_leases(sql::Db& db, const std::string& node, Millis lease_until);

}  // namespace haineko::queue::postgres
