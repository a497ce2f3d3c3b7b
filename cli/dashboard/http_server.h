// cli/dashboard/http_server.h — the dashboard's HTTP/1.1 transport (Boost.Beast, asynchronous, keep-alive),
// answering every request through Api::handle on a small pool of threads.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "cli/dashboard/api.h"

namespace bbo::cli::dashboard {

struct ServerOptions {
  std::string host = "127.0.0.1";  // an IPv4 or IPv6 address
  uint16_t port = 8080;            // 0: any free port
  int threads = 4;
};

// Listens on host:port and serves until SIGINT or SIGTERM. `on_listening` is called once with the URL
// ("http://127.0.0.1:8080/") when the socket is bound, before the first request is answered. Throws
// ValueError for a host that is not an address and bbo::Error when the address cannot be bound.
void serve(Api& api, const ServerOptions& options, const std::function<void(const std::string&)>& on_listening);

}  // namespace bbo::cli::dashboard
