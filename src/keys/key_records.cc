#include "ringgate/keys/key_records.h"

#include <sys/mman.h>

#include <cstdint>
#include <new>

namespace ringgate::key_records_detail {

void* MapChunk(size_t bytes) {
  // Twice the size, then the unaligned ends cut off: mmap only promises page alignment.
  size_t span = 2 * bytes;
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED)
    throw std::bad_alloc();
  auto start = reinterpret_cast<uintptr_t>(raw);
  uintptr_t aligned = (start + bytes - 1) & ~(uintptr_t{bytes} - 1);
  if (aligned > start)
    munmap(raw, aligned - start);
  uintptr_t end = start + span;
  if (end > aligned + bytes)
    munmap(reinterpret_cast<void*>(aligned + bytes), end - (aligned + bytes));
  return reinterpret_cast<void*>(aligned);
}

void UnmapChunk(void* chunk, size_t bytes) {
  munmap(chunk, bytes);
}

void AdviseHugePages(void* chunk, size_t bytes) {
  madvise(chunk, bytes, MADV_HUGEPAGE);  // a hint: with THP off or "never", 4 KiB pages
}

}  // namespace ringgate::key_records_detail
