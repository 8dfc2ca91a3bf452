#include "ringgate/io/buffer_ring.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

namespace ringgate {

BufferRing::~BufferRing() {
  if (br_ != nullptr) {
    io_uring_unregister_buf_ring(ring_, group_id_);
    munmap(br_, ring_bytes_);
  }
  if (buffers_mapping_ != nullptr)
    munmap(buffers_mapping_, buffers_mapping_bytes_);
}

Status BufferRing::Init(io_uring* ring, uint16_t group_id, uint32_t count, uint32_t buffer_size) {
  if (count == 0 || count > 32768 || (count & (count - 1)) != 0) {
    return Status::Error("buffer ring size must be a power of two up to 32768");
  }
  ring_ = ring;
  group_id_ = group_id;
  count_ = count;
  buffer_size_ = buffer_size;

  // The ring entries must be page-aligned memory shared with the kernel.
  ring_bytes_ = count * sizeof(io_uring_buf);
  void* mem =
      mmap(nullptr, ring_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED)
    return Status::Error("mmap of the buffer ring failed", errno);
  br_ = static_cast<io_uring_buf_ring*>(mem);

  // Buffers are only touched (and so only backed by memory) as data arrives in them.
  // They sit on 2 MiB boundaries and ask for transparent huge pages: every receive lands in the
  // next buffer of the rotation, so with 4 KiB pages the ring alone would cycle through a thousand
  // TLB entries and keep evicting those of everything else (the key pool's per-key state above
  // all); with huge pages it takes eight.
  constexpr size_t kHugePage = 2u << 20;
  buffer_bytes_ = static_cast<size_t>(count) * buffer_size;
  buffers_mapping_bytes_ = buffer_bytes_ + kHugePage;
  mem = mmap(nullptr, buffers_mapping_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE,
             -1, 0);
  if (mem == MAP_FAILED)
    return Status::Error("mmap of receive buffers failed", errno);
  buffers_mapping_ = mem;
  uintptr_t aligned = (reinterpret_cast<uintptr_t>(mem) + kHugePage - 1) & ~(kHugePage - 1);
  buffers_ = reinterpret_cast<char*>(aligned);
  madvise(buffers_, buffer_bytes_, MADV_HUGEPAGE);  // a hint: without THP, 4 KiB pages

  io_uring_buf_reg reg;
  memset(&reg, 0, sizeof(reg));
  reg.ring_addr = reinterpret_cast<uint64_t>(br_);
  reg.ring_entries = count;
  reg.bgid = group_id;
  int rc = io_uring_register_buf_ring(ring, &reg, 0);
  if (rc < 0) {
    munmap(br_, ring_bytes_);
    br_ = nullptr;
    return Status::Error(std::string("io_uring_register_buf_ring: ") + strerror(-rc), -rc);
  }
  io_uring_buf_ring_init(br_);
  int mask = io_uring_buf_ring_mask(count);
  for (uint32_t i = 0; i < count; ++i) {
    io_uring_buf_ring_add(br_, BufferAddress(i), buffer_size, static_cast<uint16_t>(i), mask,
                          static_cast<int>(i));
  }
  io_uring_buf_ring_advance(br_, static_cast<int>(count));
  return Status::Ok();
}

void BufferRing::Recycle(uint16_t buffer_id) {
  io_uring_buf_ring_add(br_, BufferAddress(buffer_id), buffer_size_, buffer_id,
                        io_uring_buf_ring_mask(count_), 0);
  io_uring_buf_ring_advance(br_, 1);
  --outstanding_;
}

}  // namespace ringgate
