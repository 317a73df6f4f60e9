// The plugins' DNS (plugin::Dns) on a loop's resolver.
#pragma once
#include <memory>

#include "plugin/services.hpp"

namespace haineko {

namespace dns {
class Resolver;
}

std::unique_ptr<plugin::Dns> make_plugin_dns(dns::Resolver& resolver);

namespace https {
class Client;
}
// The plugins' HTTP (plugin::Http) on a loop's HTTPS client.
std::unique_ptr<plugin::Http> make_plugin_http(https::Client& client);

}  // namespace haineko
