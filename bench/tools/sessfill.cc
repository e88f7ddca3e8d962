// sessfill: makes N requests as fast as it can over C keep-alive connections and counts the
// 2xx answers — used to create many sessions (no cookie is ever sent, so each request to
// sessiond's session API or a session JSP makes a new session).
// usage: sessfill HOST PORT N CONNS METHOD PATH [BODY_FILE]
// Prints: ok=<2xx> other=<non-2xx> errors=<broken connections> seconds=<s> rate=<req/s>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "http_client.h"

int main(int argc, char** argv) {
  if (argc < 7) {
    std::fprintf(stderr, "usage: %s HOST PORT N CONNS METHOD PATH [BODY_FILE]\n", argv[0]);
    return 2;
  }
  const char* host = argv[1];
  const int port = std::atoi(argv[2]);
  const long n = std::atol(argv[3]);
  const int conns = std::max(1, std::atoi(argv[4]));
  std::string body;
  if (argc > 7) {
    std::ifstream in(argv[7], std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    body = ss.str();
  }
  std::string req = std::string(argv[5]) + " " + argv[6] + " HTTP/1.1\r\nHost: " + host + "\r\n";
  if (!body.empty())
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;

  std::atomic<long> next{0}, ok{0}, other{0}, errors{0};
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < conns; ++i) {
    threads.emplace_back([&] {
      int fd = -1;
      bench::ResponseReader reader;
      while (next.fetch_add(1) < n) {
        for (int attempt = 0; fd < 0 && attempt < 100; ++attempt) {
          fd = bench::Connect(host, port);
          if (fd < 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
          reader = bench::ResponseReader();
        }
        if (fd < 0) { errors++; continue; }
        bool close_after = false;
        int status = bench::SendAll(fd, req) ? reader.Read(fd, &close_after) : -1;
        if (status < 0) {
          errors++;
          ::close(fd);
          fd = -1;
          continue;
        }
        (status >= 200 && status < 300 ? ok : other)++;
        if (close_after) { ::close(fd); fd = -1; }
      }
      if (fd >= 0) ::close(fd);
    });
  }
  for (auto& t : threads) t.join();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("ok=%ld other=%ld errors=%ld seconds=%.2f rate=%.0f\n", ok.load(), other.load(),
              errors.load(), s, static_cast<double>(ok.load() + other.load()) / s);
  return errors.load() == 0 && other.load() == 0 ? 0 : 1;
}
