// Per-core metric blocks: each core writes only its own block (plain relaxed load + store, no
// read-modify-write, no lock); whichever core serves /metrics reads every block and sums them.
// Blocks are cache-line aligned and allocated separately, so cores never share a line.
//
// Histograms have fixed bucket bounds (microseconds); the _count of a rendering is the sum of the
// bucket counts read, so the +Inf bucket always equals _count even while a core writes.
//
// What each metric means is documented in docs/metrics.md.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace ringgate {

// A monotonically increasing count with one writer.
class Counter {
 public:
  void Add(uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t Get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down, with one writer.
class Gauge {
 public:
  void Set(int64_t value) { value_.store(value, std::memory_order_relaxed); }
  int64_t Get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Upper bounds (inclusive, microseconds) of a histogram's finite buckets, ascending.
using BucketBounds = std::span<const uint64_t>;

// Upstream call durations: 5 ms .. 10 min (models think for minutes).
inline constexpr uint64_t kUpstreamBucketsUs[] = {
    5'000,      10'000,      25'000,      50'000,     100'000,    250'000,
    500'000,    1'000'000,   2'500'000,   5'000'000,  10'000'000, 30'000'000,
    60'000'000, 120'000'000, 300'000'000, 600'000'000};
// Time ringgate itself adds: 10 us .. 1 s.
inline constexpr uint64_t kOverheadBucketsUs[] = {10,     25,     50,      100,     250,
                                                  500,    1'000,  2'500,   5'000,   10'000,
                                                  25'000, 50'000, 100'000, 250'000, 1'000'000};

class Histogram {
 public:
  static constexpr size_t kMaxBuckets = 24;  // finite buckets; the +Inf bucket is extra

  explicit Histogram(BucketBounds bounds) : bounds_(bounds) {}

  void Observe(uint64_t micros) {
    size_t i = 0;
    while (i < bounds_.size() && micros > bounds_[i])
      ++i;
    counts_[i].Add();
    sum_us_.Add(micros);
  }

  BucketBounds bounds() const { return bounds_; }
  // Non-cumulative count of bucket i (i == bounds().size(): above the last bound).
  uint64_t bucket(size_t i) const { return counts_[i].Get(); }
  uint64_t sum_us() const { return sum_us_.Get(); }

 private:
  BucketBounds bounds_;
  std::array<Counter, kMaxBuckets + 1> counts_;
  Counter sum_us_;
};

// Request statuses are counted per route and per status code. Routes are numbered by the Router
// (kRouteNone / kRouteUnmatched, then its routes in order); codes map onto a fixed table.
inline constexpr size_t kMaxRoutes = 64;
inline constexpr uint16_t kRouteNone = 0;       // no route was chosen (malformed request, reject)
inline constexpr uint16_t kRouteUnmatched = 1;  // no route matched (404, 405)
inline constexpr uint16_t kFirstRouterRoute = 2;

// The codes with a slot of their own; any other code is counted under kOtherStatusSlot.
inline constexpr uint16_t kStatusCodes[] = {100, 101, 200, 201, 202, 204, 206, 301, 302, 304, 307,
                                            308, 400, 401, 403, 404, 405, 406, 408, 409, 410, 411,
                                            412, 413, 414, 415, 416, 417, 421, 422, 425, 426, 428,
                                            429, 431, 451, 499, 500, 501, 502, 503, 504, 505};
inline constexpr size_t kStatusSlots = std::size(kStatusCodes) + 1;
inline constexpr size_t kOtherStatusSlot = std::size(kStatusCodes);
size_t StatusSlot(int status);
// The code of a slot; 0 for kOtherStatusSlot.
uint16_t StatusOfSlot(size_t slot);

// Response statuses by code (upstream answers).
struct StatusCounters {
  std::array<Counter, kStatusSlots> by_slot;
  void Count(int status) { by_slot[StatusSlot(status)].Add(); }
};

// The kinds of upstream failure below HTTP (UpstreamErrorKind, in order).
inline constexpr size_t kUpstreamErrorKinds = 12;

struct alignas(64) CoreMetrics {
  // ---- Client side ----
  std::array<StatusCounters, kMaxRoutes> requests;  // [route id]
  Counter connections_accepted;
  Counter connections_rejected;  // over MAX_CONNECTIONS_PER_CORE
  Gauge open_connections;
  Gauge active_streams;  // responses being streamed (chunked or close-delimited)

  // ---- Upstream ----
  StatusCounters upstream_responses;
  std::array<Counter, kUpstreamErrorKinds> upstream_errors;
  Histogram upstream_duration{kUpstreamBucketsUs};  // request start -> response complete
  Histogram upstream_ttfb{kUpstreamBucketsUs};      // request start -> response head
  Gauge upstream_open_connections;
  Gauge upstream_idle_connections;

  // ---- Chat ----
  Histogram gateway_overhead{kOverheadBucketsUs};
  Counter prompt_tokens;
  Counter completion_tokens;
  Counter cache_hits;
  Counter cache_misses;
  Counter coalesced;  // answered from another identical request's upstream answer

  void CountRequest(uint16_t route, int status) {
    requests[route < kMaxRoutes ? route : kRouteNone].Count(status);
  }
};

// Every core's block, by core index; created before the cores start and never resized, so any
// core may read any block.
class MetricsRegistry {
 public:
  explicit MetricsRegistry(int cores);
  int cores() const { return static_cast<int>(blocks_.size()); }
  CoreMetrics& core(int index) { return *blocks_[index]; }
  const CoreMetrics& core(int index) const { return *blocks_[index]; }
  // When the registry was made (Unix milliseconds): the process's start, near enough.
  int64_t started_ms() const { return started_ms_; }

 private:
  std::vector<std::unique_ptr<CoreMetrics>> blocks_;
  int64_t started_ms_;
};

}  // namespace ringgate
