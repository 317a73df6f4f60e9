// Routes that cannot work, found when the configuration is loaded (and by
// `hainekoctl check`) rather than when the first message takes them.
#pragma once
#include <string>
#include <vector>

#include "config/config.hpp"

namespace haineko {

// The mailer names a route may use, as they must be written (names are case-sensitive).
const std::vector<std::string>& mailer_names();

// One line per problem, naming the route and where it is written: an unknown mailer,
// an auth key that authinfo does not have, a File directory that does not exist.
std::vector<std::string> route_problems(const Config& config);

}  // namespace haineko
