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
  kUpstream = 16,  // 16..19: the upstream pool's own operations
};

inline uint64_t PackOp(OpKind kind, uint32_t slot, uint32_t generation) {
  return PackOp(static_cast<uint8_t>(kind), slot, generation);
}
inline OpKind OpKindOf(uint64_t user_data) { return static_cast<OpKind>(OpKindByte(user_data)); }

// Cross-core message codes (the CQE's res).
enum class ShardMessage : uint32_t {
  kDrain = 1,     // stop accepting, finish in-flight requests, exit when idle or at the deadline
  kAbortAll = 2,  // close every connection now and exit
};

}  // namespace ringgate
