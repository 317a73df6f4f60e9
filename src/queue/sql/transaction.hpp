// One transaction around fn: begun with begin (which may hold more statements, such as a
// SET LOCAL), committed when fn returns, rolled back when it throws (the error goes on).
#pragma once
#include <string>
#include <type_traits>

#include "queue/sql/db.hpp"

namespace haineko::queue::sql {

template <class Fn>
auto in_transaction(Db& db, const std::string& begin, Fn fn) {
    db.exec(begin);
    try {
        if constexpr (std::is_void_v<decltype(fn())>) {
            fn();
            db.exec("COMMIT");
        } else {
            auto result = fn();
            db.exec("COMMIT");
            return result;
        }
    } catch (...) {
        try {
            db.exec("ROLLBACK");
        } catch (...) {
        }
        throw;
    }
}

}  // namespace haineko::queue::sql
