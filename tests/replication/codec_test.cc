// The replication wire messages: round trips, and malformed input is a Status, never a crash.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "replication/replication_internal.h"

namespace sessiond::replication {
namespace {

using namespace internal;

session::Event FullEvent() {
  session::Event e;
  e.type = session::EventType::kCreate;
  e.app = "/myapp";
  e.session_id = "0123456789ABCDEF0123456789ABCDEF.nodeA";
  e.version = 7;
  e.stamp = session::Stamp{session::MakeHlc(1'764'000'000'000, 3), "nodeA"};
  e.name = "cart";
  e.value = R"({"items":[1,2]})";
  e.time_ms = 1'764'000'000'123;
  e.max_inactive_s = 1800;
  e.distributable = true;
  return e;
}

bool SameEvent(const session::Event& a, const session::Event& b) {
  return a.type == b.type && a.app == b.app && a.session_id == b.session_id &&
         a.version == b.version && a.stamp == b.stamp && a.name == b.name && a.value == b.value &&
         a.time_ms == b.time_ms && a.max_inactive_s == b.max_inactive_s &&
         a.distributable == b.distributable;
}

// Every strict prefix and every one-byte extension of a valid encoding must be rejected.
template <typename Decode>
void ExpectStrict(const std::string& bytes, Decode decode) {
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(decode(std::string_view(bytes).substr(0, n)).ok()) << "prefix of " << n;
  }
  EXPECT_FALSE(decode(bytes + "x").ok()) << "trailing byte";
  std::string other_format = bytes;
  other_format[0] = 2;
  EXPECT_FALSE(decode(other_format).ok()) << "format 2";
}

TEST(ReplicationCodecTest, DeltaRoundTripsEveryEventField) {
  Delta d;
  d.origin = "nodeA";
  d.committed_ms = 1'764'000'000'999;
  d.committed_us = 1'764'000'000'999'123;
  d.events.push_back(FullEvent());
  session::Event second = FullEvent();
  second.type = session::EventType::kChangeId;
  second.distributable = false;
  second.max_inactive_s = -1;
  d.events.push_back(second);
  std::string bytes = EncodeDelta(d);
  Result<Delta> back = DecodeDelta(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->origin, d.origin);
  EXPECT_EQ(back->committed_ms, d.committed_ms);
  EXPECT_EQ(back->committed_us, d.committed_us);
  ASSERT_EQ(back->events.size(), 2u);
  EXPECT_TRUE(SameEvent(back->events[0], d.events[0]));
  EXPECT_TRUE(SameEvent(back->events[1], d.events[1]));
  ExpectStrict(bytes, [](std::string_view b) { return DecodeDelta(b); });
}

TEST(ReplicationCodecTest, DeltaRejectsHostileCountsAndBadFields) {
  Delta d;
  d.origin = "A";
  d.events.push_back(FullEvent());
  std::string bytes = EncodeDelta(d);
  const size_t count_at = 1 + 4 + 1 + 8 + 8;  // format, origin "A", committed_ms, committed_us
  std::string huge = bytes;
  huge[count_at + 3] = '\x7f';  // ~2 billion events in a few bytes
  EXPECT_FALSE(DecodeDelta(huge).ok());
  std::string bad_type = bytes;
  bad_type[count_at + 4] = 9;
  EXPECT_FALSE(DecodeDelta(bad_type).ok());
  std::string bad_flag = bytes;
  bad_flag.back() = 2;  // distributable must be 0 or 1
  EXPECT_FALSE(DecodeDelta(bad_flag).ok());
  session::Event no_id = FullEvent();
  no_id.session_id.clear();
  EXPECT_FALSE(DecodeDelta(EncodeDelta(Delta{"A", 0, 0, {no_id}})).ok());
}

TEST(ReplicationCodecTest, FetchRoundTripsSessionsTombstonesAndNotFound) {
  FetchRequest req{{"a.x", "b.y"}};
  auto req_back = DecodeFetchRequest(EncodeFetchRequest(req));
  ASSERT_TRUE(req_back.ok());
  EXPECT_EQ(req_back->ids, req.ids);
  ExpectStrict(EncodeFetchRequest(req), [](std::string_view b) { return DecodeFetchRequest(b); });

  FetchReply rep;
  rep.items.push_back({FetchItem::Kind::kSession, "a.x", "encoded", {}});
  rep.items.push_back({FetchItem::Kind::kTombstone, "b.y", "", session::Stamp{42, "B"}});
  rep.items.push_back({FetchItem::Kind::kNotFound, "c.z", "", {}});
  std::string bytes = EncodeFetchReply(rep);
  auto back = DecodeFetchReply(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->items.size(), 3u);
  EXPECT_EQ(back->items[0].session, "encoded");
  EXPECT_EQ(back->items[1].tombstone, (session::Stamp{42, "B"}));
  EXPECT_EQ(back->items[2].kind, FetchItem::Kind::kNotFound);
  ExpectStrict(bytes, [](std::string_view b) { return DecodeFetchReply(b); });
}

TEST(ReplicationCodecTest, FetchRequestCapsIds) {
  FetchRequest req;
  req.ids.assign(kMaxFetchIds + 1, "x");
  EXPECT_FALSE(DecodeFetchRequest(EncodeFetchRequest(req)).ok());
}

TEST(ReplicationCodecTest, StateBatchRoundTrips) {
  StateBatchRequest req{"cursor.A", 1 << 20};
  auto req_back = DecodeStateBatchRequest(EncodeStateBatchRequest(req));
  ASSERT_TRUE(req_back.ok());
  EXPECT_EQ(req_back->after_id, "cursor.A");
  EXPECT_EQ(req_back->max_bytes, 1u << 20);

  session::Session s;
  s.id = "0123456789ABCDEF0123456789ABCDEF.A";
  s.id_stamp = session::Stamp{4, "A"};  // a re-issued id travels with its change's stamp
  s.attributes["k"] = session::Attribute{"1", session::Stamp{5, "A"}};
  StateBatchReply rep;
  rep.next_cursor = s.id;
  rep.total = 100;
  rep.done = true;
  rep.sessions.push_back(session::EncodeSession(s));
  rep.tombstones.emplace_back("dead.A", session::Stamp{9, "A"});
  std::string bytes = EncodeStateBatchReply(rep);
  auto back = DecodeStateBatchReply(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->next_cursor, s.id);
  EXPECT_EQ(back->total, 100u);
  EXPECT_TRUE(back->done);
  ASSERT_EQ(back->sessions.size(), 1u);
  EXPECT_EQ(*session::DecodeSession(back->sessions[0]), s);
  EXPECT_EQ(back->tombstones, rep.tombstones);
  ExpectStrict(bytes, [](std::string_view b) { return DecodeStateBatchReply(b); });
}

TEST(ReplicationCodecTest, DigestAndBucketsRoundTrip) {
  auto dreq = DecodeDigestRequest(EncodeDigestRequest(DigestRequest{true}));
  ASSERT_TRUE(dreq.ok());
  EXPECT_TRUE(dreq->reconcile_back);
  DigestReply d;
  for (uint32_t i = 0; i < kDigestBuckets; ++i) d.buckets[i] = i * 0x1234567ull;
  auto dback = DecodeDigestReply(EncodeDigestReply(d));
  ASSERT_TRUE(dback.ok());
  EXPECT_EQ(dback->buckets, d.buckets);
  ExpectStrict(EncodeDigestReply(d), [](std::string_view b) { return DecodeDigestReply(b); });

  BucketRequest breq{{0, 17, 255}};
  auto bback = DecodeBucketRequest(EncodeBucketRequest(breq));
  ASSERT_TRUE(bback.ok());
  EXPECT_EQ(bback->buckets, breq.buckets);
  EXPECT_FALSE(DecodeBucketRequest(EncodeBucketRequest(BucketRequest{{256}})).ok());

  BucketReply entries;
  entries.entries.push_back({"a.A", 3, 0xfeed, false});
  entries.entries.push_back({"b.A", 0, 0xdead, true});
  std::string bytes = EncodeBucketReply(entries);
  auto eback = DecodeBucketReply(bytes);
  ASSERT_TRUE(eback.ok());
  EXPECT_EQ(eback->entries, entries.entries);
  ExpectStrict(bytes, [](std::string_view b) { return DecodeBucketReply(b); });
}

TEST(ReplicationCodecTest, HoldersRoundTrip) {
  auto req = DecodeHoldersRequest(EncodeHoldersRequest(HoldersRequest{"x.A"}));
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->id, "x.A");
  auto rep = DecodeHoldersReply(EncodeHoldersReply(HoldersReply{true, 12}));
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->has);
  EXPECT_EQ(rep->version, 12u);
  ExpectStrict(EncodeHoldersReply(HoldersReply{true, 12}),
               [](std::string_view b) { return DecodeHoldersReply(b); });
}

TEST(ReplicationCodecTest, DigestIsOrderFreeAndBucketsByBase) {
  std::vector<session::DigestEntry> a{{"A1.x", 1, 10, false}, {"B2.x", 2, 20, false}};
  std::vector<session::DigestEntry> b{a[1], a[0]};
  EXPECT_EQ(DigestOf(a).buckets, DigestOf(b).buckets);
  EXPECT_EQ(BucketOf("0123456789ABCDEF0123456789ABCDEF.nodeA"),
            BucketOf("0123456789ABCDEF0123456789ABCDEF.nodeB"));
}

// The seed corpora's sessions are in the current session format (2), so fuzzing starts from what
// nodes send today.
std::string ReadCorpus(const std::string& name) {
  std::ifstream in(std::string(SESSIOND_SOURCE_DIR) + "/tests/fuzz/corpus/" + name, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return bytes.empty() ? bytes : bytes.substr(1);  // the fuzz target's selector byte
}

TEST(ReplicationCodecTest, SeedCorpusSessionsAreCurrent) {
  auto fetch = DecodeFetchReply(ReadCorpus("replication_fetch/valid-reply"));
  ASSERT_TRUE(fetch.ok()) << fetch.status().ToString();
  std::vector<std::string> sessions;
  for (const FetchItem& item : fetch->items) {
    if (item.kind == FetchItem::Kind::kSession) sessions.push_back(item.session);
  }
  for (const char* name : {"replication_state_batch/valid-reply",
                           "replication_state_batch/valid-reply-last-tombstones"}) {
    auto batch = DecodeStateBatchReply(ReadCorpus(name));
    ASSERT_TRUE(batch.ok()) << name << ": " << batch.status().ToString();
    sessions.insert(sessions.end(), batch->sessions.begin(), batch->sessions.end());
  }
  ASSERT_GE(sessions.size(), 3u);
  for (const std::string& bytes : sessions) {
    EXPECT_EQ(bytes[0], 2);
    auto s = session::DecodeSession(bytes);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_NE(s->id_stamp, session::Stamp{});
  }
}

}  // namespace
}  // namespace sessiond::replication
