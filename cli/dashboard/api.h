// cli/dashboard/api.h — what `bbo dashboard` answers: the embedded page and the JSON/SVG API over one storage.
//
// The HTTP transport (http_server.h) turns each request into a call of Api::handle; this class knows nothing
// of sockets, so every answer (status, type, body) is decided here. Endpoints (docs/cli.md, "bbo dashboard"):
//   GET  /                                         the page (also /index.html, /app.js, /app.css)
//   GET  /api/studies                              studies, plot kinds, whether writes are allowed
//   GET  /api/studies/{id}                         one study: directions, attrs, strategy, counts, best
//   GET  /api/studies/{id}/trials?offset&limit&sort&order&state&filter
//                                                  one page of trials, sorted and filtered on the server
//   GET  /api/studies/{id}/trials/{number}         one trial in full, with the tail of its `bbo run` log
//   GET  /api/studies/{id}/plot/{kind}?params&objective&width&height   an SVG (bbo::viz)
//   POST /api/studies/{id}/trials/{number}/stop    {"state": "FAIL"|"PRUNED"}        (--allow-write only)
//   POST /api/studies/{id}/enqueue                 {"params": {...}}                 (--allow-write only)
// Errors are JSON {"error": "one line"} with 400 (bad input), 403 (write without --allow-write), 404, 405,
// 409 (trial not RUNNING) or 500; no request can stop the server.
//
// Trials are cached per study and refreshed incrementally (Storage::get_trials_since) before each read, so a
// poll of an unchanged 100k-trial study costs one small query plus the page; the last sorted/filtered order
// is kept per study and reused while the study's version and the query are unchanged. Thread-safe: requests
// may come from several threads (one lock per study; the storage serializes itself).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "bbo/storage.h"

namespace bbo::cli::dashboard {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent ("/api/studies/1/trials?offset=0")
  std::string body;
  std::string content_type;
  std::string if_none_match;  // the If-None-Match header, "" when absent
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string etag;  // "" = none
  bool cacheable = false;  // static assets: may be cached briefly; API answers: always revalidate
};

struct ApiOptions {
  bool allow_write = false;
  std::size_t log_tail_bytes = 64 * 1024;  // default tail of a trial's log; ?log_bytes= up to 1 MiB
};

class Api {
 public:
  Api(std::shared_ptr<Storage> storage, ApiOptions options);
  ~Api();

  // Never throws: errors become JSON error responses.
  Response handle(const Request& request);

 private:
  struct StudyCache;
  StudyCache& cache(int64_t study_id);
  Response route(const Request& request);

  std::shared_ptr<Storage> storage_;
  ApiOptions options_;
  std::mutex mu_;  // guards caches_ (the map, not the entries)
  std::map<int64_t, std::unique_ptr<StudyCache>> caches_;
};

}  // namespace bbo::cli::dashboard
