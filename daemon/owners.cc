#include "owners.h"

#include <nlohmann/json.hpp>

#include "util/file_util.h"

namespace ckpt::daemon {

Result<std::unique_ptr<Owners>> Owners::Load(const std::string& path) {
  std::unique_ptr<Owners> owners(new Owners(path));
  if (!PathExists(path)) return owners;
  auto text = ReadSmallFile(path);
  if (!text.ok()) return text.status();
  const nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::Corruption(path + ": not a JSON object of job -> uid");
  for (const auto& [job, uid] : j.items()) {
    if (!uid.is_number_unsigned()) return Status::Corruption(path + ": owner of job '" + job + "' is not a uid");
    owners->owner_[job] = uid.get<uid_t>();
  }
  return owners;
}

Status Owners::Claim(const std::string& job, uid_t uid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = owner_.find(job);
  if (it != owner_.end()) {
    if (it->second == uid) return Status::OK();
    return Status::FailedPrecondition("job " + job + " belongs to uid " + std::to_string(it->second) +
                                      ", not to uid " + std::to_string(uid));
  }
  owner_[job] = uid;
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, owner] : owner_) j[name] = owner;
  Status saved = WriteFileAtomic(path_, j.dump(1) + "\n");
  if (!saved.ok()) {
    owner_.erase(job);
    return saved.WithContext("record the owner of job " + job);
  }
  return Status::OK();
}

}  // namespace ckpt::daemon
