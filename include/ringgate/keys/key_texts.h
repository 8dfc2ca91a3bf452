// KeyTexts: the text of every API key, by index, in fixed 48-byte slots held in chunks that never
// move. A key's text is one computed address away (no std::string object to load first, so it can
// be prefetched a request ahead), thousands of keys take 48 bytes each, and a view of a key stays
// valid however many keys are added later. A key longer than a slot (Google's are 39 characters)
// lives in a side table, found through its slot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ringgate {

class KeyTexts {
 public:
  static constexpr size_t kSlotBytes = 48;
  static constexpr size_t kChunkSlots = 1024;

  // Appends a key; returns its index.
  uint32_t Add(std::string_view key) {
    uint32_t index = static_cast<uint32_t>(size_);
    if (index % kChunkSlots == 0)
      chunks_.push_back(std::make_unique<Slot[]>(kChunkSlots));
    Slot& slot = SlotOf(index);
    if (key.size() < kSlotBytes) {
      slot.size = static_cast<uint8_t>(key.size());
      memcpy(slot.text, key.data(), key.size());
    } else {
      slot.size = kLong;
      uint32_t which = static_cast<uint32_t>(long_.size());
      long_.push_back(std::make_unique<std::string>(key));
      memcpy(slot.text, &which, sizeof(which));
    }
    ++size_;
    return index;
  }

  std::string_view operator[](uint32_t index) const {
    const Slot& slot = SlotOf(index);
    if (slot.size != kLong)
      return std::string_view(slot.text, slot.size);
    uint32_t which;
    memcpy(&which, slot.text, sizeof(which));
    return *long_[which];
  }

  // The slot's address, for a prefetch.
  const void* Address(uint32_t index) const { return &SlotOf(index); }
  size_t size() const { return size_; }

 private:
  static constexpr uint8_t kLong = 0xFF;
  struct Slot {
    uint8_t size;
    char text[kSlotBytes - 1];
  };
  static_assert(sizeof(Slot) == kSlotBytes);

  Slot& SlotOf(uint32_t index) { return chunks_[index / kChunkSlots][index % kChunkSlots]; }
  const Slot& SlotOf(uint32_t index) const {
    return chunks_[index / kChunkSlots][index % kChunkSlots];
  }

  std::vector<std::unique_ptr<Slot[]>> chunks_;
  std::vector<std::unique_ptr<std::string>> long_;  // each string stays where it is
  size_t size_ = 0;
};

}  // namespace ringgate
