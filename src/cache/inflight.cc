#include "ringgate/cache/inflight.h"

#include <algorithm>
#include <utility>

namespace ringgate {

InFlightTable::InFlightTable(InFlightSettings settings) : settings_(settings) {}

InFlightRole InFlightTable::Register(Fingerprint fingerprint, WaiterId who, uint64_t now_ms) {
  if (!settings_.enabled)
    return InFlightRole::kBypass;
  auto it = entries_.find(fingerprint);
  if (it == entries_.end()) {
    if (entries_.size() >= settings_.max_keys)
      return InFlightRole::kBypass;
    Entry& e = entries_[fingerprint];
    e.leader = who;
    e.started_ms = now_ms;
    return InFlightRole::kLeader;
  }
  Entry& e = it->second;
  if (e.leader == who)
    return InFlightRole::kLeader;  // a repeated registration changes nothing
  if (e.followers.size() >= settings_.max_followers)
    return InFlightRole::kBypass;
  e.followers.push_back(Follower{who, now_ms});
  return InFlightRole::kFollower;
}

bool InFlightTable::Finish(Fingerprint fingerprint, WaiterId leader, WakeReason reason,
                           std::vector<Wake>* out) {
  auto it = entries_.find(fingerprint);
  if (it == entries_.end() || !(it->second.leader == leader))
    return false;
  for (const Follower& f : it->second.followers)
    out->push_back(Wake{f.who, reason, fingerprint});
  entries_.erase(it);
  return true;
}

bool InFlightTable::Complete(Fingerprint fingerprint, WaiterId leader, std::vector<Wake>* out) {
  return Finish(fingerprint, leader, WakeReason::kAnswer, out);
}

bool InFlightTable::Fail(Fingerprint fingerprint, WaiterId leader, std::vector<Wake>* out) {
  return Finish(fingerprint, leader, WakeReason::kLeaderFailed, out);
}

bool InFlightTable::CancelLeader(Fingerprint fingerprint, WaiterId leader, uint64_t now_ms,
                                 std::vector<Wake>* out) {
  auto it = entries_.find(fingerprint);
  if (it == entries_.end() || !(it->second.leader == leader))
    return false;
  Entry& e = it->second;
  if (e.followers.empty()) {
    entries_.erase(it);
    return true;
  }
  e.leader = e.followers.front().who;
  e.started_ms = now_ms;  // the new leader's upstream exchange starts now
  e.followers.erase(e.followers.begin());
  out->push_back(Wake{e.leader, WakeReason::kPromoted, fingerprint});
  return true;
}

bool InFlightTable::CancelFollower(Fingerprint fingerprint, WaiterId follower) {
  auto it = entries_.find(fingerprint);
  if (it == entries_.end())
    return false;
  auto& fs = it->second.followers;
  auto f = std::find_if(fs.begin(), fs.end(), [&](const Follower& x) { return x.who == follower; });
  if (f == fs.end())
    return false;
  fs.erase(f);
  return true;
}

size_t InFlightTable::Expire(uint64_t now_ms, std::vector<Wake>* out) {
  size_t before = out->size();
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& e = it->second;
    if (now_ms - e.started_ms >= settings_.leader_timeout_ms && now_ms >= e.started_ms) {
      for (const Follower& f : e.followers)
        out->push_back(Wake{f.who, WakeReason::kLeaderTimedOut, it->first});
      it = entries_.erase(it);  // erase while iterating, correctly (HAJIMI bug 18.1.19)
      continue;
    }
    auto& fs = e.followers;
    auto keep = std::remove_if(fs.begin(), fs.end(), [&](const Follower& f) {
      if (now_ms >= f.since_ms && now_ms - f.since_ms >= settings_.follower_timeout_ms) {
        out->push_back(Wake{f.who, WakeReason::kTimedOut, it->first});
        return true;
      }
      return false;
    });
    fs.erase(keep, fs.end());
    ++it;
  }
  return out->size() - before;
}

size_t InFlightTable::followers(Fingerprint fingerprint) const {
  auto it = entries_.find(fingerprint);
  return it == entries_.end() ? 0 : it->second.followers.size();
}

InFlightRegisterReply ApplyInFlightRegister(InFlightTable& table, const InFlightRegister& msg,
                                            uint64_t now_ms) {
  InFlightRegisterReply reply;
  reply.fingerprint = msg.fingerprint;
  reply.who = msg.who;
  reply.role = table.Register(msg.fingerprint, msg.who, now_ms);
  return reply;
}

bool ApplyInFlightDone(InFlightTable& table, const InFlightDone& msg, uint64_t now_ms,
                       std::vector<InFlightWake>* out) {
  thread_local std::vector<Wake> wakes;
  wakes.clear();
  bool ok;
  if (msg.cancelled)
    ok = table.CancelLeader(msg.fingerprint, msg.leader, now_ms, &wakes);
  else if (msg.ok)
    ok = table.Complete(msg.fingerprint, msg.leader, &wakes);
  else
    ok = table.Fail(msg.fingerprint, msg.leader, &wakes);
  for (const Wake& w : wakes) {
    InFlightWake iw;
    iw.wake = w;
    if (w.reason == WakeReason::kAnswer || w.reason == WakeReason::kLeaderFailed)
      iw.answer = msg.answer;
    out->push_back(std::move(iw));
  }
  return ok;
}

}  // namespace ringgate
