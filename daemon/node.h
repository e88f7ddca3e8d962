// The running node: wires the modules of lib/ together for one sessiond process and waits for
// signals. daemon/ stays thin: every behaviour lives in lib/; this file only decides the order
// of start and stop (DESIGN.md §8).
#pragma once

#include "config/config.h"

namespace sessiond {

/// Starts every part of the node described by `config`, serves until SIGTERM or SIGINT (SIGHUP
/// reopens log files), then stops in order: stop accepting, finish in-flight requests, persist
/// sessions, exit. Returns the process exit code (0 after a clean stop, 1 when start failed).
/// Must be called from the main thread before any other thread exists (it sets the signal mask
/// that every thread inherits).
int RunNode(const config::NodeConfig& config);

}  // namespace sessiond
