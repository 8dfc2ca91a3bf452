#include "ringgate/io/output_queue.h"

#include <utility>

#include "ringgate/common/log.h"

namespace ringgate {

OutputQueue::Watermark OutputQueue::CheckHigh() {
  if (!above_high_ && unsent() >= high_) {
    above_high_ = true;
    return Watermark::kCrossedHigh;
  }
  return Watermark::kNone;
}

OutputQueue::Watermark OutputQueue::Append(std::string_view bytes) {
  pending_.append(bytes);
  return CheckHigh();
}

std::string_view OutputQueue::StartSend() {
  if (in_flight_) return {};
  if (flight_offset_ >= flight_.size()) {
    if (pending_.empty()) return {};
    flight_.clear();
    flight_offset_ = 0;
    std::swap(flight_, pending_);
  }
  in_flight_ = true;
  return std::string_view(flight_).substr(flight_offset_);
}

OutputQueue::Watermark OutputQueue::Sent(size_t n) {
  RG_CHECK(in_flight_ && flight_offset_ + n <= flight_.size());
  in_flight_ = false;
  flight_offset_ += n;
  if (flight_offset_ == flight_.size()) {
    flight_.clear();
    flight_offset_ = 0;
  }
  if (above_high_ && unsent() <= low_) {
    above_high_ = false;
    return Watermark::kCrossedLow;
  }
  return Watermark::kNone;
}

void OutputQueue::Clear() {
  flight_.clear();
  flight_offset_ = 0;
  pending_.clear();
  in_flight_ = false;
  above_high_ = false;
}

void OutputQueue::ShrinkIfIdle(size_t keep) {
  if (!empty() || in_flight_) return;
  if (flight_.capacity() > keep) std::string().swap(flight_);
  if (pending_.capacity() > keep) std::string().swap(pending_);
}

}  // namespace ringgate
