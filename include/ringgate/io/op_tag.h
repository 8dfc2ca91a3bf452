// How io_uring operations are tagged: user_data = kind (8 bits) | slot (24) | generation (32).
// The owner of a kind decides what slot means; the generation of a reused slot changes, so a
// completion that arrives for an object already gone is recognised and ignored.
#pragma once

#include <cstdint>

namespace ringgate {

inline uint64_t PackOp(uint8_t kind, uint32_t slot, uint32_t generation) {
  return (static_cast<uint64_t>(kind) << 56) | (static_cast<uint64_t>(slot & 0xffffff) << 32) |
         generation;
}
inline uint8_t OpKindByte(uint64_t user_data) { return static_cast<uint8_t>(user_data >> 56); }
inline uint32_t OpSlotOf(uint64_t user_data) {
  return static_cast<uint32_t>(user_data >> 32) & 0xffffff;
}
inline uint32_t OpGenerationOf(uint64_t user_data) { return static_cast<uint32_t>(user_data); }

}  // namespace ringgate
