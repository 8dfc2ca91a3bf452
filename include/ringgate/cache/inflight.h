// InFlightTable: request coalescing (hajimi-behaviour.md 10.4) on the fingerprint's owner core.
//
// The first request for a fingerprint becomes the leader and goes upstream; identical requests
// that arrive while it runs become followers and wait for the leader's answer instead of spending
// keys. The table only keeps the bookkeeping: who leads, who waits, since when. Delivering the
// answer (or the bad news) to each waiter is the caller's job, driven by the Wake lists that
// Complete / Fail / CancelLeader / Expire return.
//
//   Register(fp, me, now)    -> kLeader: go upstream, then Complete(fp, me, answer) or Fail(...)
//                            -> kFollower: wait for a Wake addressed to `me`
//                            -> kBypass: coalescing is off (PUBLIC_MODE) or the table is full;
//                               handle the request alone, never call Complete for it
//   Complete(fp, leader)     -> every follower gets kAnswer (the caller sends each a copy)
//   Fail(fp, leader)         -> every follower gets kLeaderFailed (HAJIMI: the awaited task's
//                               exception reaches every waiter); the caller answers them with the
//                               leader's error
//   CancelLeader(fp, leader) -> the leader's client went away: the oldest follower is promoted
//                               (Wake kPromoted: it must go upstream itself and later
//                               Complete/Fail as leader); without followers the entry goes
//   CancelFollower(fp, who)  -> a follower's client went away: it is forgotten
//   Expire(now)              -> followers waiting >= follower_timeout_ms (HAJIMI: 240 s) get
//                               kTimedOut and are removed; leaders running >= leader_timeout_ms
//                               (HAJIMI cancels tasks older than 300 s) are dropped and their
//                               followers get kLeaderTimedOut. Call it every second or so.
//
// What a follower does with kTimedOut / kLeaderTimedOut is the caller's choice (HAJIMI answers
// with an error; going upstream alone is the friendlier fix). Coalescing makes sense only for
// answers that can be handed to several clients (a complete non-stream body); HAJIMI's sharing of
// single-use streaming bodies is a bug we do not copy.
//
// Bounded: at most max_keys fingerprints and max_followers per fingerprint; beyond that Register
// answers kBypass. No I/O, no clock of its own, not thread-safe (the owner core calls it).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "ringgate/cache/fingerprint.h"

namespace ringgate {

struct InFlightSettings {
  bool enabled = true;  // false in PUBLIC_MODE
  uint64_t follower_timeout_ms = 240000;
  uint64_t leader_timeout_ms = 300000;
  uint32_t max_keys = 65536;
  uint32_t max_followers = 1024;
};

// Who is waiting: the core the request lives on and a token unique on that core.
struct WaiterId {
  uint32_t core = 0;
  uint64_t token = 0;
  friend bool operator==(WaiterId a, WaiterId b) { return a.core == b.core && a.token == b.token; }
};

enum class InFlightRole : uint8_t { kLeader, kFollower, kBypass };

enum class WakeReason : uint8_t {
  kAnswer,          // the leader's answer is ready
  kLeaderFailed,    // the leader gave up with an error
  kPromoted,        // the leader was cancelled; this waiter now leads
  kTimedOut,        // waited follower_timeout_ms
  kLeaderTimedOut,  // the leader ran past leader_timeout_ms
};

struct Wake {
  WaiterId waiter;
  WakeReason reason = WakeReason::kAnswer;
  Fingerprint fingerprint;
};

class InFlightTable {
 public:
  explicit InFlightTable(InFlightSettings settings = {});

  InFlightRole Register(Fingerprint fingerprint, WaiterId who, uint64_t now_ms);

  // Only the current leader may finish an entry; a stale leader (timed out, or cancelled and
  // replaced) gets false and nothing changes. Wakes are appended to `out`.
  bool Complete(Fingerprint fingerprint, WaiterId leader, std::vector<Wake>* out);
  bool Fail(Fingerprint fingerprint, WaiterId leader, std::vector<Wake>* out);
  bool CancelLeader(Fingerprint fingerprint, WaiterId leader, uint64_t now_ms,
                    std::vector<Wake>* out);
  bool CancelFollower(Fingerprint fingerprint, WaiterId follower);

  // Returns the number of wakes appended.
  size_t Expire(uint64_t now_ms, std::vector<Wake>* out);

  size_t size() const { return entries_.size(); }  // fingerprints in flight
  size_t followers(Fingerprint fingerprint) const;
  const InFlightSettings& settings() const { return settings_; }

 private:
  struct Follower {
    WaiterId who;
    uint64_t since_ms = 0;
  };
  struct Entry {
    WaiterId leader;
    uint64_t started_ms = 0;
    std::vector<Follower> followers;  // arrival order
  };

  bool Finish(Fingerprint fingerprint, WaiterId leader, WakeReason reason, std::vector<Wake>* out);

  InFlightSettings settings_;
  std::unordered_map<Fingerprint, Entry, FingerprintHash> entries_;
};

// ---- Cross-core messages: a request on core A whose fingerprint core B owns ----

// A -> B: register `who` (who.core == A).
struct InFlightRegister {
  Fingerprint fingerprint;
  WaiterId who;
};
// B -> A: the role.
struct InFlightRegisterReply {
  Fingerprint fingerprint;
  WaiterId who;
  InFlightRole role = InFlightRole::kBypass;
};
// A (the leader's core) -> B: the leader finished. `ok` false = failed, with `answer` holding the
// error body to pass on; `cancelled` = the leader's client went away.
struct InFlightDone {
  Fingerprint fingerprint;
  WaiterId leader;
  bool ok = true;
  bool cancelled = false;
  std::string answer;
};
// B -> each follower's core: the outcome (answer set for kAnswer and kLeaderFailed).
struct InFlightWake {
  Wake wake;
  std::string answer;
};

InFlightRegisterReply ApplyInFlightRegister(InFlightTable& table, const InFlightRegister& msg,
                                            uint64_t now_ms);
// Appends one InFlightWake per woken waiter (each with its own copy of the answer); the caller
// routes each to wake.waiter.core. Returns false for a stale leader.
bool ApplyInFlightDone(InFlightTable& table, const InFlightDone& msg, uint64_t now_ms,
                       std::vector<InFlightWake>* out);

}  // namespace ringgate
