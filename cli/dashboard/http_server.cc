// cli/dashboard/http_server.cc — see http_server.h. The structure is Beast's asynchronous HTTP server
// example: one acceptor, one session per connection on its own strand, an io_context run by a few threads.
#include "cli/dashboard/http_server.h"

#include <csignal>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/version.hpp>

#include "bbo/error.h"

namespace bbo::cli::dashboard {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr std::size_t kMaxBody = 1 << 20;  // POST bodies are small JSON objects
constexpr auto kIdleTimeout = std::chrono::seconds(60);

http::response<http::string_body> to_beast(const Response& r, const http::request<http::string_body>& req) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), req.version()};
  res.set(http::field::server, "bbo dashboard");
  if (r.status != 304) res.set(http::field::content_type, r.content_type);
  if (!r.etag.empty()) res.set(http::field::etag, r.etag);
  // The page's data must be revalidated on every poll (the ETag makes that cheap); the page itself may be
  // cached for a minute.
  res.set(http::field::cache_control, r.cacheable ? "max-age=60" : "no-cache");
  res.set("X-Content-Type-Options", "nosniff");
  res.keep_alive(req.keep_alive());
  if (req.method() != http::verb::head && r.status != 304) res.body() = r.body;
  res.prepare_payload();
  if (req.method() == http::verb::head) res.content_length(r.body.size());
  return res;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, Api& api) : stream_(std::move(socket)), api_(api) {}

  void run() {
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::do_read, shared_from_this()));
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(kMaxBody);
    stream_.expires_after(kIdleTimeout);
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted ||
        ec == net::error::connection_reset || ec == net::error::eof)
      return do_close();
    if (ec) {  // malformed request: answer 400 (413 for a large body) and close
      Response r;
      r.status = ec == http::error::body_limit ? 413 : 400;
      r.body = std::string("{\"error\":\"bad HTTP request: ") + (r.status == 413 ? "body too large" : "malformed") +
               "\"}";
      http::request<http::string_body> req;
      req.version(11);
      req.keep_alive(false);
      return send(to_beast(r, req), true);
    }
    http::request<http::string_body> req = parser_->release();
    Request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.body = std::move(req.body());
    if (auto it = req.find(http::field::content_type); it != req.end()) r.content_type = std::string(it->value());
    if (auto it = req.find(http::field::if_none_match); it != req.end()) r.if_none_match = std::string(it->value());
    Response answer = api_.handle(r);
    send(to_beast(answer, req), !req.keep_alive());
  }

  void send(http::response<http::string_body>&& res, bool close) {
    res_ = std::make_shared<http::response<http::string_body>>(std::move(res));
    http::async_write(stream_, *res_,
                      [self = shared_from_this(), close](beast::error_code ec, std::size_t) {
                        if (ec || close) return self->do_close();
                        self->res_.reset();
                        self->do_read();
                      });
  }

  void do_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<http::response<http::string_body>> res_;
  Api& api_;
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& ioc, tcp::acceptor&& acceptor, Api& api)
      : ioc_(ioc), acceptor_(std::move(acceptor)), api_(api) {}
  void run() { do_accept(); }
  void stop() {
    beast::error_code ec;
    acceptor_.close(ec);
  }

 private:
  void do_accept() {
    acceptor_.async_accept(net::make_strand(ioc_), beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
  }
  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;  // stopping
    if (!ec) std::make_shared<Session>(std::move(socket), api_)->run();
    // Other accept errors (too many open files, ...) concern one connection; keep listening.
    do_accept();
  }

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  Api& api_;
};

}  // namespace

void serve(Api& api, const ServerOptions& options, const std::function<void(const std::string&)>& on_listening) {
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(options.host, ec);
  if (ec) throw ValueError("--host: '" + options.host + "' is not an IP address (e.g. 127.0.0.1, ::1, 0.0.0.0)");
  const int threads = std::max(1, options.threads);
  net::io_context ioc{threads};

  tcp::endpoint endpoint{address, options.port};
  tcp::acceptor acceptor(ioc);
  auto fail = [&](const char* what) {
    throw Error("cannot listen on " + options.host + ":" + std::to_string(options.port) + " (" + what + ": " +
                ec.message() + ")");
  };
  acceptor.open(endpoint.protocol(), ec);
  if (ec) fail("open");
  acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (ec) fail("set_option");
  acceptor.bind(endpoint, ec);
  if (ec) fail("bind");
  acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) fail("listen");
  const uint16_t port = acceptor.local_endpoint().port();
  const std::string host = address.is_v6() ? "[" + options.host + "]" : options.host;
  auto listener = std::make_shared<Listener>(ioc, std::move(acceptor), api);

  net::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code, int) {
    listener->stop();
    ioc.stop();
  });
  listener->run();
  on_listening("http://" + host + ":" + std::to_string(port) + "/");

  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
}

}  // namespace bbo::cli::dashboard
