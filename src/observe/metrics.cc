#include "ringgate/observe/metrics.h"

#include "ringgate/common/clock.h"

namespace ringgate {
namespace {

struct StatusSlotTable {
  uint8_t slot_of[600];
  constexpr StatusSlotTable() : slot_of() {
    for (uint8_t& slot : slot_of)
      slot = static_cast<uint8_t>(kOtherStatusSlot);
    for (size_t i = 0; i < std::size(kStatusCodes); ++i)
      slot_of[kStatusCodes[i]] = static_cast<uint8_t>(i);
  }
};

constexpr StatusSlotTable kStatusSlotTable;

}  // namespace

size_t StatusSlot(int status) {
  if (status < 0 || status >= 600)
    return kOtherStatusSlot;
  return kStatusSlotTable.slot_of[status];
}

uint16_t StatusOfSlot(size_t slot) {
  return slot < std::size(kStatusCodes) ? kStatusCodes[slot] : 0;
}

MetricsRegistry::MetricsRegistry(int cores) : started_ms_(WallMillis()) {
  for (int i = 0; i < cores; ++i)
    blocks_.push_back(std::make_unique<CoreMetrics>());
}

}  // namespace ringgate
