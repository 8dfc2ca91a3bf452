// KeyRecords: every API key's text and a small fixed payload (the pool's per-key flags and daily
// count), by index, one 64-byte, line-aligned record per key, in chunks that never move.
//
// Why one line: with thousands of keys a key in rotation was last touched a whole cycle ago, so
// each line a request reads for its key is a cache miss and, on a virtual machine, often a page
// walk too. The pick prefetches the record, the upstream request copies the text out of it and
// the success counts into it: one line and one page per key. (Text and flags in separate arrays
// cost two or three lines and pages; 48-byte text slots straddled two lines for half the keys,
// and only the first was prefetched: docs/benchmarks.md, "Session of 2026-11-26 from 19:56 UTC".)
//
// A key's text is one computed address away (no std::string object to load first), and a view of
// it stays valid however many keys are added later. A key longer than a record holds inline
// (Google's are 39 characters) lives in a side table, found through its record.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace ringgate {

template <typename Payload>
class KeyRecords {
 public:
  static constexpr size_t kRecordBytes = 64;
  static constexpr size_t kChunkRecords = 1024;
  // The longest text held in the record itself.
  static constexpr size_t kInlineText = kRecordBytes - sizeof(Payload) - 1;

  // Appends a key with a default payload; returns its index.
  uint32_t Add(std::string_view key) {
    uint32_t index = static_cast<uint32_t>(size_);
    if (index % kChunkRecords == 0)
      chunks_.push_back(std::make_unique<Record[]>(kChunkRecords));
    Record& record = RecordOf(index);
    if (key.size() <= kInlineText) {
      record.size = static_cast<uint8_t>(key.size());
      memcpy(record.text, key.data(), key.size());
    } else {
      record.size = kLong;
      uint32_t which = static_cast<uint32_t>(long_.size());
      long_.push_back(std::make_unique<std::string>(key));
      memcpy(record.text, &which, sizeof(which));
    }
    ++size_;
    return index;
  }

  std::string_view operator[](uint32_t index) const {
    const Record& record = RecordOf(index);
    if (record.size != kLong)
      return std::string_view(record.text, record.size);
    uint32_t which;
    memcpy(&which, record.text, sizeof(which));
    return *long_[which];
  }

  Payload& payload(uint32_t index) { return RecordOf(index).payload; }
  const Payload& payload(uint32_t index) const { return RecordOf(index).payload; }

  // The record's address (one cache line), for a prefetch.
  const void* Address(uint32_t index) const { return &RecordOf(index); }
  size_t size() const { return size_; }

 private:
  static constexpr uint8_t kLong = 0xFF;
  struct alignas(kRecordBytes) Record {
    Payload payload{};
    uint8_t size = 0;
    char text[kInlineText];
  };
  static_assert(sizeof(Record) == kRecordBytes, "a record is one cache line");
  static_assert(kInlineText >= 39 && kInlineText < kLong, "Google's keys fit inline");
  static_assert(std::is_trivially_destructible_v<Payload>);

  Record& RecordOf(uint32_t index) { return chunks_[index / kChunkRecords][index % kChunkRecords]; }
  const Record& RecordOf(uint32_t index) const {
    return chunks_[index / kChunkRecords][index % kChunkRecords];
  }

  std::vector<std::unique_ptr<Record[]>> chunks_;
  std::vector<std::unique_ptr<std::string>> long_;  // each string stays where it is
  size_t size_ = 0;
};

}  // namespace ringgate
