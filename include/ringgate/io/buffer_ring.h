// BufferRing: one provided-buffer ring per core, shared by every socket of that core. Multishot
// receives pick a buffer only when data arrives, so idle connections hold no receive memory.
//
// liburing 2.3 has no io_uring_setup_buf_ring(), so the ring memory is mapped here and registered
// with io_uring_register_buf_ring(). A buffer handed out in a completion must be given back with
// Recycle() as soon as its bytes are consumed; while it is out the kernel cannot use it.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ringgate/common/result.h"

namespace ringgate {

class BufferRing {
 public:
  BufferRing() = default;
  ~BufferRing();
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  // `count` must be a power of two (at most 32768).
  Status Init(io_uring* ring, uint16_t group_id, uint32_t count, uint32_t buffer_size);

  uint16_t group_id() const { return group_id_; }
  uint32_t buffer_size() const { return buffer_size_; }
  uint32_t count() const { return count_; }
  // Buffers currently held by completions (handed out and not yet recycled).
  uint32_t outstanding() const { return outstanding_; }

  // The bytes a completion delivered: `cqe_flags` carries the buffer id.
  std::string_view Data(uint32_t cqe_flags, size_t length) const {
    return std::string_view(BufferAddress(cqe_flags >> IORING_CQE_BUFFER_SHIFT), length);
  }
  static uint16_t BufferId(uint32_t cqe_flags) {
    return static_cast<uint16_t>(cqe_flags >> IORING_CQE_BUFFER_SHIFT);
  }
  void NoteTaken() { ++outstanding_; }

  // Returns a buffer to the kernel.
  void Recycle(uint16_t buffer_id);

 private:
  char* BufferAddress(uint32_t id) const {
    return buffers_ + static_cast<size_t>(id) * buffer_size_;
  }

  io_uring* ring_ = nullptr;
  io_uring_buf_ring* br_ = nullptr;
  size_t ring_bytes_ = 0;
  char* buffers_ = nullptr;
  size_t buffer_bytes_ = 0;
  void* buffers_mapping_ = nullptr;  // the mapping buffers_ lies in (aligned inside it)
  size_t buffers_mapping_bytes_ = 0;
  uint32_t count_ = 0;
  uint32_t buffer_size_ = 0;
  uint16_t group_id_ = 0;
  uint32_t outstanding_ = 0;
};

}  // namespace ringgate
