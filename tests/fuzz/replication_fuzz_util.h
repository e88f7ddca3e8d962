// Shared by the replication fuzz targets: decode, and when that succeeds require the canonical
// encoding to give back the very same bytes.
#pragma once

#include <cstdlib>
#include <string_view>

#include "replication/replication_internal.h"

namespace sessiond::replication::fuzz {

template <typename Decode, typename Encode>
void RoundTrip(std::string_view bytes, Decode decode, Encode encode) {
  auto decoded = decode(bytes);
  if (!decoded.ok()) return;
  if (encode(*decoded) != bytes) std::abort();
}

}  // namespace sessiond::replication::fuzz
