// cli/dashboard/assets.h — the dashboard's static files (index.html, app.js, app.css), compiled into the
// `bbo` binary by cli/dashboard/embed_assets.cmake so an installed binary needs no source tree.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace bbo::cli::dashboard {

struct Asset {
  const char* path;          // URL path: "/index.html", "/app.js", ...
  const char* content_type;  // "text/html; charset=utf-8", ...
  const unsigned char* data;
  std::size_t size;
};

// Every embedded file (generated source).
const std::vector<Asset>& assets();

}  // namespace bbo::cli::dashboard
