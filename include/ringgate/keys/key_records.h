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
// Chunks are 2 MiB, aligned, mapped from the system and filled as keys come (a small pool commits
// only the 4 KiB pages it uses). A pool of kHugePageKeys keys or more asks for transparent huge
// pages (MADV_HUGEPAGE): then every record is under one TLB entry, where thousands of records in
// 4 KiB pages cost the pick a page walk (a two-level one on a virtual machine) for almost every
// key (perf, 5,000 keys: the pick's 39-60 ns a request fell to 20-28). That costs up to 2 MiB per
// core, only for such pools.
//
// A key's text is one computed address away (no std::string object to load first), and a view of
// it stays valid however many keys are added later. A key longer than a record holds inline
// (Google's are 39 characters) lives in a side table, found through its record.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace ringgate {

namespace key_records_detail {
// A zero-filled, 2 MiB-aligned mapping of `bytes` (a multiple of 2 MiB); throws std::bad_alloc.
void* MapChunk(size_t bytes);
void UnmapChunk(void* chunk, size_t bytes);
// Asks for transparent huge pages on the chunk (a hint: without THP nothing changes).
void AdviseHugePages(void* chunk, size_t bytes);
}  // namespace key_records_detail

template <typename Payload>
class KeyRecords {
 public:
  static constexpr size_t kRecordBytes = 64;
  static constexpr size_t kChunkBytes = size_t{2} << 20;
  static constexpr size_t kChunkRecords = kChunkBytes / kRecordBytes;
  // The longest text held in the record itself.
  static constexpr size_t kInlineText = kRecordBytes - sizeof(Payload) - 1;
  // Pools at least this large ask for huge pages (128 KiB of records, 32 pages of 4 KiB).
  static constexpr size_t kHugePageKeys = 2048;

  KeyRecords() = default;
  KeyRecords(const KeyRecords&) = delete;
  KeyRecords& operator=(const KeyRecords&) = delete;

  // Says how many keys the pool is about to hold, so the chunks of a large pool ask for huge
  // pages before their first page is touched (asked later, the kernel may merge the pages in
  // the background, or not).
  void Expect(size_t keys) {
    if (keys >= kHugePageKeys && !huge_) {
      huge_ = true;
      for (auto& chunk : chunks_)
        key_records_detail::AdviseHugePages(chunk.get(), kChunkBytes);
    }
  }
  bool huge_pages_asked() const { return huge_; }

  // Appends a key with a default payload; returns its index.
  uint32_t Add(std::string_view key) {
    uint32_t index = static_cast<uint32_t>(size_);
    Expect(size_ + 1);
    if (index % kChunkRecords == 0) {
      chunks_.emplace_back(static_cast<Record*>(key_records_detail::MapChunk(kChunkBytes)));
      if (huge_)
        key_records_detail::AdviseHugePages(chunks_.back().get(), kChunkBytes);
    }
    Record& record = *new (&RecordOf(index)) Record();
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
  // Chunks are unmapped without running destructors.
  static_assert(std::is_trivially_destructible_v<Payload>);
  struct Unmap {
    void operator()(Record* chunk) const { key_records_detail::UnmapChunk(chunk, kChunkBytes); }
  };

  Record& RecordOf(uint32_t index) {
    return chunks_[index / kChunkRecords].get()[index % kChunkRecords];
  }
  const Record& RecordOf(uint32_t index) const {
    return chunks_[index / kChunkRecords].get()[index % kChunkRecords];
  }

  std::vector<std::unique_ptr<Record, Unmap>> chunks_;
  std::vector<std::unique_ptr<std::string>> long_;  // each string stays where it is
  size_t size_ = 0;
  bool huge_ = false;
};

}  // namespace ringgate
