// The session shape every /submit answer (and every error answer) is made of.
#pragma once
#include <chrono>
#include <string>
#include <optional>
#include <vector>

#include "core/reply.hpp"
#include "core/submission.hpp"

namespace haineko {

// The session shape as JSON text; queueid is null when no submission was started (404,
// 401, /conf refusals).
std::string session_json(const Submission& s, bool started, const std::vector<Reply>& replies);

// "Fri Jan  3 18:35:58 2014", local time, as Perl's Time::Piece cdate.
std::string ctime_text(std::chrono::system_clock::time_point when);

}  // namespace haineko
