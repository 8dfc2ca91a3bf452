// The kinds of io_uring operation a shard submits (see io/op_tag.h for the packing).
#pragma once

#include <cstdint>

#include "ringgate/io/op_tag.h"

namespace ringgate {

enum class OpKind : uint8_t {
  kIgnore = 0,   // fire-and-forget (close, cancel, shutdown): result not needed
  kAccept = 1,   // slot = listener index
  kRecv = 2,
  kSend = 3,
  kMessage = 4,  // a cross-core message arriving (MSG_RING)
  kReject = 5,   // the 503 sent to a connection over the limit; slot = buffer id
  kCoreMessage = 6,      // a CoreMessage arriving; the low 56 bits are its address
  kCoreMessageSent = 7,  // the sender's completion for it (frees it if delivery failed)
  kUpstream = 16,  // 16..19: the upstream pool's own operations
};

inline uint64_t PackOp(OpKind kind, uint32_t slot, uint32_t generation) {
  return PackOp(static_cast<uint8_t>(kind), slot, generation);
}
inline OpKind OpKindOf(uint64_t user_data) { return static_cast<OpKind>(OpKindByte(user_data)); }

// A pointer tagged with a kind in the top byte (user-space addresses fit in 56 bits on x86-64 and
// arm64).
inline uint64_t PackPointer(OpKind kind, const void* pointer) {
  return (static_cast<uint64_t>(kind) << 56) | reinterpret_cast<uintptr_t>(pointer);
}
inline void* UnpackPointer(uint64_t user_data) {
  return reinterpret_cast<void*>(static_cast<uintptr_t>(user_data & ((uint64_t{1} << 56) - 1)));
}

// Cross-core message codes (the CQE's res).
enum class ShardMessage : uint32_t {
  kDrain = 1,     // stop accepting, finish in-flight requests, exit when idle or at the deadline
  kAbortAll = 2,  // close every connection now and exit
};

}  // namespace ringgate
