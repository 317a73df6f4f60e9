// The event feed's numbers on a shared queue. A number drawn at insert time would not do:
// two nodes' transactions commit in any order, so a reader could see event 12 before
// event 11 is committed, move its cursor past 11 and never see it. Here an event is
// inserted without a number; after each commit, the node numbers every committed event
// still without one, in a short transaction of its own under a cluster-wide advisory
// lock. Numbering transactions follow each other, so every number a reader sees was
// given after every lower one was visible.
#pragma once
#include "queue/sql/db.hpp"

namespace haineko::queue::postgres {

// Numbers the committed events that have none (oldest first); returns how many.
std::int64_t number_events(sql::Db& db);

}  // namespace haineko::queue::postgres
