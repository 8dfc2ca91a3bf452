// How a shard tags its io_uring operations: user_data = kind (8 bits) | slot (24) | generation
// (32). The generation of a connection slot changes when the slot is reused, so a completion
// that arrives for a connection already gone is recognised and ignored.
#pragma once

#include <cstdint>

namespace ringgate {

enum class OpKind : uint8_t {
  kIgnore = 0,   // fire-and-forget (close, cancel, shutdown): result not needed
  kAccept = 1,   // slot = listener index
  kRecv = 2,
  kSend = 3,
  kMessage = 4,  // a cross-core message arriving (MSG_RING); slot = sender
  kReject = 5,   // the 503 sent to a connection over the limit; slot unused
};

inline uint64_t PackOp(OpKind kind, uint32_t slot, uint32_t generation) {
  return (static_cast<uint64_t>(kind) << 56) | (static_cast<uint64_t>(slot & 0xffffff) << 32) |
         generation;
}
inline OpKind OpKindOf(uint64_t user_data) { return static_cast<OpKind>(user_data >> 56); }
inline uint32_t OpSlotOf(uint64_t user_data) {
  return static_cast<uint32_t>(user_data >> 32) & 0xffffff;
}
inline uint32_t OpGenerationOf(uint64_t user_data) { return static_cast<uint32_t>(user_data); }

// Cross-core message codes (the CQE's res).
enum class ShardMessage : uint32_t {
  kDrain = 1,     // stop accepting, finish in-flight requests, exit when idle or at the deadline
  kAbortAll = 2,  // close every connection now and exit
};

}  // namespace ringgate
