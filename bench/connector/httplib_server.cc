// cpp-httplib (Debian 0.11.4) server with the same constant 50-byte JSON reply.
// usage: httplib_server ADDRESS PORT THREADS NODELAY(0|1)
// cpp-httplib gives each keep-alive connection a pool thread for its whole life, so THREADS
// bounds the number of connections served at once (bench/connector.sh).
#include <httplib.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

static httplib::Server* g_server = nullptr;

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s ADDRESS PORT THREADS NODELAY\n", argv[0]);
    return 2;
  }
  static const std::string kBody = R"({"status":"ok","node":"bench1","value":1234567890})";
  const int threads = std::max(1, std::atoi(argv[3]));
  httplib::Server svr;
  g_server = &svr;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  svr.set_tcp_nodelay(std::atoi(argv[4]) != 0);
  svr.Get(".*", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kBody, "application/json");
  });
  std::signal(SIGTERM, [](int) { if (g_server) g_server->stop(); });
  std::signal(SIGINT, [](int) { if (g_server) g_server->stop(); });
  if (!svr.listen(argv[1], std::atoi(argv[2]))) {
    std::fprintf(stderr, "httplib_server: cannot listen on %s:%s\n", argv[1], argv[2]);
    return 1;
  }
  return 0;
}
