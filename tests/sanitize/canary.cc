// sanitizer_canary MODE: a deliberately buggy program, built with the same sanitizer flags as
// sessiond, so tests/e2e/sanitizer_reports_e2e_test.cc can prove with a REAL sanitizer report (not
// a stand-in) that scripts/sanitize's plumbing reaches child processes: the options in the
// environment, one log_path file per process, and the test that started the child failing.
//
// Modes: heap-use-after-free (ASan), leak (LeakSanitizer, at a normal exit),
// signed-overflow (UBSan), data-race (TSan). In an unsanitized build each mode just runs its bug
// unnoticed and exits 0; the tests only use the modes the build can detect.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace {

// volatile and opaque: keep the optimizer from proving the bugs away.
volatile int sink;
void* volatile leaked;

int HeapUseAfterFree() {
  int* p = new int[4]{1, 2, 3, 4};
  delete[] p;
  sink = p[static_cast<int>(sink) & 3];
  return 0;
}

int Leak() {
  leaked = std::malloc(4096);
  leaked = nullptr;  // the only pointer dropped: a definite leak at exit
  return 0;
}

int SignedOverflow() {
  volatile int big = 0x7fffffff;
  sink = big + static_cast<int>(sink) + 1;
  return 0;
}

int DataRace() {
  int shared = 0;
  std::thread other([&] { shared = 1; });
  shared = 2;
  other.join();
  sink = shared;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (std::strcmp(mode, "heap-use-after-free") == 0) return HeapUseAfterFree();
  if (std::strcmp(mode, "leak") == 0) return Leak();
  if (std::strcmp(mode, "signed-overflow") == 0) return SignedOverflow();
  if (std::strcmp(mode, "data-race") == 0) return DataRace();
  std::fprintf(stderr, "usage: sanitizer_canary heap-use-after-free|leak|signed-overflow|data-race\n");
  return 2;
}
