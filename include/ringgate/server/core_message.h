// CoreMessage: work one core hands to another. The pointer travels inside an IORING_OP_MSG_RING
// completion (the target's ring wakes up with it), so there is no shared queue and no lock; the
// receiving core runs Deliver() on its own thread and then deletes the message.
#pragma once

namespace ringgate {

class Shard;

class CoreMessage {
 public:
  virtual ~CoreMessage() = default;
  // Runs on the receiving core's thread, from its event loop.
  virtual void Deliver(Shard& shard) = 0;
};

}  // namespace ringgate
