// replication's wire messages other than Delta (which is public), shared by the codec, the
// Replicator's parts and the tests/fuzz targets. Layouts: replication_codec.cc.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "replication/replication.h"

namespace sessiond::replication::internal {

inline constexpr uint8_t kWireFormat = 1;
inline constexpr uint32_t kDigestBuckets = 256;
inline constexpr uint32_t kMaxFetchIds = 1024;     ///< ids in one fetch request
inline constexpr uint32_t kMaxIdBytes = 256;       ///< longer ids are malformed

/// The anti-entropy bucket of an id: by its base, so an id and its re-routed form share a bucket.
uint32_t BucketOf(std::string_view id);

// ---- fetch: ids -> whole sessions or tombstones (gap repair, anti-entropy) ----

struct FetchRequest {
  std::vector<std::string> ids;
};
struct FetchItem {
  enum class Kind : uint8_t { kNotFound = 0, kSession = 1, kTombstone = 2 } kind = Kind::kNotFound;
  std::string id;
  std::string session;        ///< kSession: session::EncodeSession bytes (decoded by the user)
  session::Stamp tombstone;   ///< kTombstone: the invalidation stamp
};
struct FetchReply {
  std::vector<FetchItem> items;
};
std::string EncodeFetchRequest(const FetchRequest& r);
Result<FetchRequest> DecodeFetchRequest(std::string_view bytes);
std::string EncodeFetchReply(const FetchReply& r);
Result<FetchReply> DecodeFetchReply(std::string_view bytes);

// ---- state transfer ----

struct StateBatchRequest {
  std::string after_id;     ///< cursor: sessions with ids strictly greater
  uint32_t max_bytes = 0;   ///< target size of the reply
};
struct StateBatchReply {
  std::string next_cursor;  ///< the last id in this batch (the next request's after_id)
  uint64_t total = 0;       ///< the sender's session count now
  bool done = false;        ///< no sessions after this batch
  std::vector<std::string> sessions;  ///< session::EncodeSession bytes, ids ascending
  std::vector<std::pair<std::string, session::Stamp>> tombstones;  ///< in the last batch only
};
std::string EncodeStateBatchRequest(const StateBatchRequest& r);
Result<StateBatchRequest> DecodeStateBatchRequest(std::string_view bytes);
std::string EncodeStateBatchReply(const StateBatchReply& r);
Result<StateBatchReply> DecodeStateBatchReply(std::string_view bytes);

// ---- anti-entropy ----

struct DigestRequest {
  bool reconcile_back = false;  ///< the asker wants the answerer to run a round with it too
};
struct DigestReply {
  std::array<uint64_t, kDigestBuckets> buckets{};  ///< XOR of the entry hashes of each bucket
};
struct BucketRequest {
  std::vector<uint32_t> buckets;  ///< each < kDigestBuckets, at most kDigestBuckets of them
};
struct BucketReply {
  std::vector<session::DigestEntry> entries;
};
std::string EncodeDigestRequest(const DigestRequest& r);
Result<DigestRequest> DecodeDigestRequest(std::string_view bytes);
std::string EncodeDigestReply(const DigestReply& r);
Result<DigestReply> DecodeDigestReply(std::string_view bytes);
std::string EncodeBucketRequest(const BucketRequest& r);
Result<BucketRequest> DecodeBucketRequest(std::string_view bytes);
std::string EncodeBucketReply(const BucketReply& r);
Result<BucketReply> DecodeBucketReply(std::string_view bytes);
/// The digest of a set of entries: per bucket, XOR of a mix of (id, hash) — order-free.
DigestReply DigestOf(const std::vector<session::DigestEntry>& entries);

// ---- holders ----

struct HoldersRequest {
  std::string id;
};
struct HoldersReply {
  bool has = false;
  uint64_t version = 0;
};
std::string EncodeHoldersRequest(const HoldersRequest& r);
Result<HoldersRequest> DecodeHoldersRequest(std::string_view bytes);
std::string EncodeHoldersReply(const HoldersReply& r);
Result<HoldersReply> DecodeHoldersReply(std::string_view bytes);

}  // namespace sessiond::replication::internal
