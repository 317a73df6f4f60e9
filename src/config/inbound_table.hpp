// etc/inbound: the domains the inbound listeners take mail for, each with its route (the
// keys of mailertable) and, optionally, which of its addresses exist (recipients: a list
// of local parts or whole addresses, or 'backend' to ask the route's server).
#pragma once
#include <string>

#include "config/config.hpp"

namespace haineko {

// path: ROOT/etc/inbound (a missing file: no inbound domains). Throws ConfigError.
void load_inbound_table(Config& config, const std::string& path, TableFile& table);

}  // namespace haineko
