// The CoreMessages AdminService cores send each other. Private to src/admin.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ringgate/admin/admin_service.h"
#include "ringgate/server/core_message.h"
#include "ringgate/server/shard.h"

namespace ringgate::admin_messages {

// Any core -> core 0: run `op`, then reply to (reply_core, token).
class Call final : public CoreMessage {
 public:
  Call(AdminOp op, std::string body, int reply_core, uint64_t token);
  void Deliver(Shard& shard) override;

 private:
  AdminOp op_;
  std::string body_;
  int reply_core_;
  uint64_t token_;
};

class Reply final : public CoreMessage {
 public:
  Reply(uint64_t token, AdminReply reply) : token_(token), reply_(std::move(reply)) {}
  void Deliver(Shard& shard) override {
    if (shard.admin() != nullptr)
      shard.admin()->OnReply(token_, std::move(reply_));
  }

 private:
  uint64_t token_;
  AdminReply reply_;
};

class Settings final : public CoreMessage {
 public:
  explicit Settings(std::shared_ptr<const RuntimeSettings> values) : values_(std::move(values)) {}
  void Deliver(Shard& shard) override {
    if (shard.admin() != nullptr)
      shard.admin()->OnSettings(*values_);
  }

 private:
  std::shared_ptr<const RuntimeSettings> values_;
};

class AddKeys final : public CoreMessage {
 public:
  explicit AddKeys(std::shared_ptr<const std::vector<std::string>> keys) : keys_(std::move(keys)) {}
  void Deliver(Shard& shard) override {
    if (shard.admin() != nullptr)
      shard.admin()->OnAddKeys(*keys_);
  }

 private:
  std::shared_ptr<const std::vector<std::string>> keys_;
};

class ForgetKeys final : public CoreMessage {
 public:
  explicit ForgetKeys(std::shared_ptr<const std::vector<uint32_t>> keys) : keys_(std::move(keys)) {}
  void Deliver(Shard& shard) override {
    if (shard.admin() != nullptr)
      shard.admin()->OnForgetKeys(*keys_);
  }

 private:
  std::shared_ptr<const std::vector<uint32_t>> keys_;
};

class ResetStats final : public CoreMessage {
 public:
  explicit ResetStats(uint32_t epoch) : epoch_(epoch) {}
  void Deliver(Shard& shard) override {
    if (shard.admin() != nullptr)
      shard.admin()->OnResetStats(epoch_);
  }

 private:
  uint32_t epoch_;
};

class CallStatsDeltas final : public CoreMessage {
 public:
  CallStatsDeltas(uint32_t epoch, std::shared_ptr<const std::vector<MinuteCount>> deltas)
      : epoch_(epoch), deltas_(std::move(deltas)) {}
  void Deliver(Shard& shard) override {
    if (shard.admin() != nullptr)
      shard.admin()->OnCallStats(epoch_, *deltas_);
  }

 private:
  uint32_t epoch_;
  std::shared_ptr<const std::vector<MinuteCount>> deltas_;
};

class Revoke final : public CoreMessage {
 public:
  Revoke(const SessionClaims& claims, int reply_core, uint64_t token)
      : claims_(claims), reply_core_(reply_core), token_(token) {}
  void Deliver(Shard& shard) override {
    if (shard.admin() != nullptr)
      shard.admin()->OnRevoke(claims_, reply_core_, token_);
  }

 private:
  SessionClaims claims_;
  int reply_core_;
  uint64_t token_;
};

class RevokeAck final : public CoreMessage {
 public:
  explicit RevokeAck(uint64_t token) : token_(token) {}
  void Deliver(Shard& shard) override {
    if (shard.admin() != nullptr)
      shard.admin()->OnRevokeAck(token_);
  }

 private:
  uint64_t token_;
};

class LoginOutcome final : public CoreMessage {
 public:
  LoginOutcome(const IpAddress& ip, int64_t now_ms, bool failed)
      : ip_(ip), now_ms_(now_ms), failed_(failed) {}
  void Deliver(Shard& shard) override {
    if (shard.admin() == nullptr)
      return;
    if (failed_) {
      shard.admin()->OnLoginFailure(ip_, now_ms_);
    } else {
      shard.admin()->OnLoginSuccess(ip_);
    }
  }

 private:
  IpAddress ip_;
  int64_t now_ms_;
  bool failed_;
};

}  // namespace ringgate::admin_messages
