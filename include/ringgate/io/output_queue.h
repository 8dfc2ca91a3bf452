// OutputQueue: the bytes waiting to go out on one connection, with high/low watermarks.
//
//   [ in flight: handed to the kernel, must not move ][ pending: appended since ]
//
// Appends always land in `pending`, so the in-flight bytes never move while a send is under way
// (io_uring may read them after submission). When a send completes, what is left of the in-flight
// buffer is sent again, else pending becomes the next in-flight buffer: many small responses
// (pipelining, SSE events) leave in one send.
//
// Watermarks: once the unsent total rises to `high` the queue reports itself above the high
// mark, and it stays so until the total falls to `low`. The owner stops producing (stops reading
// the peer or the upstream) while above it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ringgate {

class OutputQueue {
 public:
  enum class Watermark { kNone, kCrossedHigh, kCrossedLow };

  explicit OutputQueue(size_t high = 1 << 20, size_t low = 256 << 10) : high_(high), low_(low) {}

  // Appends bytes; returns kCrossedHigh when this append took the queue over the high mark.
  Watermark Append(std::string_view bytes);

  // Lets `write(std::string&)` append straight to the pending buffer (a response formatted in
  // place, no temporary), then checks the high mark.
  template <typename WriteFn>
  Watermark AppendWith(WriteFn&& write) {
    write(pending_);
    return CheckHigh();
  }

  // The next block to hand to the kernel, or empty when nothing is left or a send is already in
  // flight. Marks the block in flight.
  std::string_view StartSend();
  bool send_in_flight() const { return in_flight_; }

  // The kernel took `n` bytes of the in-flight block; returns kCrossedLow when this took the
  // queue under the low mark.
  Watermark Sent(size_t n);
  // The send failed; the connection is going away, so the queue just forgets its bytes.
  void Clear();

  size_t unsent() const { return (flight_.size() - flight_offset_) + pending_.size(); }
  bool empty() const { return unsent() == 0; }
  bool above_high() const { return above_high_; }

  // Gives back buffer memory beyond `keep` bytes while the queue is empty (idle connections).
  void ShrinkIfIdle(size_t keep);

 private:
  Watermark CheckHigh();

  std::string flight_;
  size_t flight_offset_ = 0;
  bool in_flight_ = false;
  std::string pending_;
  size_t high_;
  size_t low_;
  bool above_high_ = false;
};

}  // namespace ringgate
