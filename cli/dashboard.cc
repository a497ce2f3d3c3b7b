// bbo dashboard: a read-only (unless --allow-write) web page over a storage, served by an HTTP server inside
// the binary. The API is cli/dashboard/api.h; the page (cli/dashboard/index.html, app.js, app.css) is
// compiled in.
#include <iostream>

#include "common.h"
#include "dashboard/api.h"
#include "dashboard/http_server.h"

namespace bbo::cli {
namespace {

struct DashboardOptions {
  StorageOption storage;
  std::string host = "127.0.0.1";
  int port = 8080;
  bool allow_write = false;
  int threads = 4;
};

int run(const DashboardOptions& o) {
  std::shared_ptr<Storage> storage = open_storage(o.storage.resolve());
  storage->list_studies();  // fail now, with the storage's message, rather than on the first page load
  dashboard::Api api(storage, {.allow_write = o.allow_write});
  dashboard::ServerOptions so{.host = o.host, .port = static_cast<uint16_t>(o.port), .threads = o.threads};
  dashboard::serve(api, so, [&](const std::string& url) {
    // The URL is the first line on stdout (tests and scripts read it, notably with --port 0).
    std::cout << url << std::endl;
    std::cerr << "bbo dashboard: serving " << redact_storage_url(o.storage.resolve()) << " at " << url
              << (o.allow_write ? " (writes allowed)" : " (read-only)") << "; Ctrl-C stops" << std::endl;
  });
  return kExitOk;
}

}  // namespace

Command register_dashboard(CLI::App& app) {
  auto o = std::make_shared<DashboardOptions>();
  CLI::App* cmd = app.add_subcommand("dashboard", "Serve a web dashboard of the storage's studies");
  add_storage_option(cmd, o->storage);
  cmd->add_option("--port", o->port, "TCP port (default 8080; 0 picks a free port)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--host", o->host, "Address to listen on (default 127.0.0.1, loopback only)");
  cmd->add_flag("--allow-write", o->allow_write,
                "Allow the page to stop RUNNING trials and enqueue parameters (default: read-only)");
  cmd->add_option("--threads", o->threads, "Threads answering requests (default 4)")->check(CLI::Range(1, 64));
  return {cmd, [o] { return run(*o); }};
}

}  // namespace bbo::cli
