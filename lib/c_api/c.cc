// The C API (ckpt/c.h) over the C++ API: each handle wraps the C++ object;
// every entry point that can fail catches exceptions (allocation failures)
// so that none crosses into C.
#include "ckpt/c.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "ckpt/build_info.h"
#include "ckpt/client.h"
#include "ckpt/options.h"
#include "ckpt/status.h"
#include "ckpt/store.h"
#include "ckpt/types.h"

using ckpt::CheckpointInfo;
using ckpt::ChunkFault;
using ckpt::Client;
using ckpt::ElementType;
using ckpt::Result;
using ckpt::Status;
using ckpt::Store;
using ckpt::Ticket;

extern "C" {

struct ckpt_options_t {
  ckpt::Options rep;
  int compression = CKPT_COMPRESSION_ZSTD;
};
struct ckpt_client_t {
  std::unique_ptr<Client> rep;
};
struct ckpt_ticket_t {
  Ticket rep;
};
struct ckpt_store_t {
  std::shared_ptr<Store> rep;
};
struct ckpt_checkpoint_list_t {
  std::vector<CheckpointInfo> rep;
};
struct ckpt_fault_list_t {
  std::vector<ChunkFault> rep;
  std::vector<std::string> described;
};

}  // extern "C"

// The C constants are the C++ enumerators' values.
static_assert(CKPT_TYPE_BYTES == static_cast<int>(ElementType::kBytes));
static_assert(CKPT_TYPE_I8 == static_cast<int>(ElementType::kInt8));
static_assert(CKPT_TYPE_U8 == static_cast<int>(ElementType::kUInt8));
static_assert(CKPT_TYPE_I16 == static_cast<int>(ElementType::kInt16));
static_assert(CKPT_TYPE_U16 == static_cast<int>(ElementType::kUInt16));
static_assert(CKPT_TYPE_I32 == static_cast<int>(ElementType::kInt32));
static_assert(CKPT_TYPE_U32 == static_cast<int>(ElementType::kUInt32));
static_assert(CKPT_TYPE_I64 == static_cast<int>(ElementType::kInt64));
static_assert(CKPT_TYPE_U64 == static_cast<int>(ElementType::kUInt64));
static_assert(CKPT_TYPE_F16 == static_cast<int>(ElementType::kFloat16));
static_assert(CKPT_TYPE_BF16 == static_cast<int>(ElementType::kBFloat16));
static_assert(CKPT_TYPE_F32 == static_cast<int>(ElementType::kFloat32));
static_assert(CKPT_TYPE_F64 == static_cast<int>(ElementType::kFloat64));
static_assert(CKPT_COMPRESSION_OFF == static_cast<int>(ckpt::Compression::kOff));
static_assert(CKPT_COMPRESSION_ZSTD == static_cast<int>(ckpt::Compression::kZstd));

namespace {

// Stores `message` in *errptr as a malloc()ed string (freeing what was there).
void SaveMessage(char** errptr, const char* message) {
  if (errptr == nullptr) return;
  std::free(*errptr);
  const size_t n = std::strlen(message);
  char* copy = static_cast<char*>(std::malloc(n + 1));
  if (copy != nullptr) std::memcpy(copy, message, n + 1);
  *errptr = copy;  // NULL only when even this allocation failed
}

// Stores a non-OK status in *errptr; returns whether there was one.
bool SaveError(char** errptr, const Status& status) {
  if (status.ok()) return false;
  SaveMessage(errptr, status.ToString().c_str());
  return true;
}

// Stores the exception that escaped `body` as an "aborted" error.
void SaveException(char** errptr) {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    SaveMessage(errptr, "aborted: out of memory");
  } catch (const std::exception& e) {
    const std::string message = std::string("aborted: ") + e.what();
    SaveMessage(errptr, message.c_str());
  } catch (...) {
    SaveMessage(errptr, "aborted: unknown exception");
  }
}

// Runs `body`; an exception becomes an error and the result `on_exception`.
template <typename T, typename Body>
T Guarded(char** errptr, T on_exception, Body&& body) {
  try {
    return body();
  } catch (...) {
    SaveException(errptr);
  }
  return on_exception;
}

template <typename Body>
void GuardedVoid(char** errptr, Body&& body) {
  try {
    body();
  } catch (...) {
    SaveException(errptr);
  }
}

std::string OrEmpty(const char* s) { return s == nullptr ? std::string() : std::string(s); }

std::optional<ElementType> ToElementType(int type) {
  if (type < 0 || type > 255) return std::nullopt;
  return ckpt::ElementTypeFromByte(static_cast<uint8_t>(type));
}

const CheckpointInfo* At(const ckpt_checkpoint_list_t* list, size_t i) {
  if (list == nullptr || i >= list->rep.size()) return nullptr;
  return &list->rep[i];
}

const ckpt::RegionInfo* RegionAt(const ckpt_checkpoint_list_t* list, size_t i, size_t r) {
  const CheckpointInfo* info = At(list, i);
  if (info == nullptr || r >= info->regions.size()) return nullptr;
  return &info->regions[r];
}

Status NullArgument(const char* what) {
  return Status::InvalidArgument(std::string(what) + " is NULL");
}

}  // namespace

extern "C" {

void ckpt_free(void* ptr) { std::free(ptr); }

const char* ckpt_version(void) {
  static const std::string version = ckpt::GetBuildInfo().version;
  return version.c_str();
}

size_t ckpt_element_size(int type) {
  const std::optional<ElementType> t = ToElementType(type);
  return t.has_value() ? ckpt::ElementSize(*t) : 0;
}

// ---- options ----

ckpt_options_t* ckpt_options_create(void) { return new (std::nothrow) ckpt_options_t; }
void ckpt_options_destroy(ckpt_options_t* options) { delete options; }

void ckpt_options_set_store_dir(ckpt_options_t* options, const char* dir) {
  if (options == nullptr) return;
  options->rep.store_dir = OrEmpty(dir);
}
void ckpt_options_set_job(ckpt_options_t* options, const char* job) {
  if (options == nullptr) return;
  options->rep.job = OrEmpty(job);
}
void ckpt_options_set_chunk_bytes(ckpt_options_t* options, size_t bytes) {
  if (options == nullptr) return;
  options->rep.chunk_bytes = bytes;
}
void ckpt_options_set_compression(ckpt_options_t* options, int compression) {
  if (options == nullptr) return;
  options->compression = compression;
}
void ckpt_options_set_zstd_level(ckpt_options_t* options, int level) {
  if (options == nullptr) return;
  options->rep.zstd_level = level;
}
void ckpt_options_set_staging_bytes(ckpt_options_t* options, size_t bytes) {
  if (options == nullptr) return;
  options->rep.staging_bytes = bytes;
}
void ckpt_options_set_checkpoint_every_steps(ckpt_options_t* options, uint64_t steps) {
  if (options == nullptr) return;
  options->rep.checkpoint_every_steps = steps;
}
void ckpt_options_set_create_if_missing(ckpt_options_t* options, unsigned char value) {
  if (options == nullptr) return;
  options->rep.store.create_if_missing = value != 0;
}
void ckpt_options_set_use_direct_io(ckpt_options_t* options, unsigned char value) {
  if (options == nullptr) return;
  options->rep.store.use_direct_io = value != 0;
}

// ---- client ----

ckpt_client_t* ckpt_client_open(const ckpt_options_t* options, char** errptr) {
  return Guarded(errptr, static_cast<ckpt_client_t*>(nullptr), [&]() -> ckpt_client_t* {
    if (options == nullptr) {
      SaveError(errptr, NullArgument("options"));
      return nullptr;
    }
    ckpt::Options opt = options->rep;
    switch (options->compression) {
      case CKPT_COMPRESSION_OFF: opt.compression = ckpt::Compression::kOff; break;
      case CKPT_COMPRESSION_ZSTD: opt.compression = ckpt::Compression::kZstd; break;
      default:
        SaveError(errptr, Status::InvalidArgument("unknown compression " +
                                                  std::to_string(options->compression) +
                                                  " (CKPT_COMPRESSION_OFF or _ZSTD)"));
        return nullptr;
    }
    Result<std::unique_ptr<Client>> opened = Client::Open(opt);
    if (SaveError(errptr, opened.status())) return nullptr;
    auto* client = new ckpt_client_t;
    client->rep = std::move(opened).value();
    return client;
  });
}

void ckpt_client_close(ckpt_client_t* client) { delete client; }

namespace {

// ckpt_client_protect and ckpt_client_protect_shaped; no shape when dims is null and rank 0.
void ProtectRegion(ckpt_client_t* client, const char* name, void* data, size_t bytes, int type,
                   const uint64_t* dims, size_t rank, char** errptr) {
  GuardedVoid(errptr, [&] {
    if (client == nullptr) {
      SaveError(errptr, NullArgument("client"));
      return;
    }
    if (name == nullptr) {
      SaveError(errptr, NullArgument("region name"));
      return;
    }
    const std::optional<ElementType> t = ToElementType(type);
    if (!t.has_value()) {
      SaveError(errptr, Status::InvalidArgument("region '" + std::string(name) +
                                                "': unknown element type " +
                                                std::to_string(type)));
      return;
    }
    if (dims == nullptr && rank > 0) {
      SaveError(errptr, NullArgument("dims"));
      return;
    }
    if (dims == nullptr) {
      SaveError(errptr, client->rep->protect(name, data, bytes, *t));
    } else {
      SaveError(errptr, client->rep->protect(name, data, bytes, *t, ckpt::Shape(dims, dims + rank)));
    }
  });
}

}  // namespace

void ckpt_client_protect(ckpt_client_t* client, const char* name, void* data, size_t bytes,
                         int type, char** errptr) {
  ProtectRegion(client, name, data, bytes, type, nullptr, 0, errptr);
}

void ckpt_client_protect_shaped(ckpt_client_t* client, const char* name, void* data,
                                size_t bytes, int type, const uint64_t* dims, size_t rank,
                                char** errptr) {
  static const uint64_t kScalar = 0;  // a non-null pointer for rank 0
  ProtectRegion(client, name, data, bytes, type, dims != nullptr || rank > 0 ? dims : &kScalar,
                rank, errptr);
}

ckpt_ticket_t* ckpt_client_checkpoint(ckpt_client_t* client, uint64_t step, char** errptr) {
  return Guarded(errptr, static_cast<ckpt_ticket_t*>(nullptr), [&]() -> ckpt_ticket_t* {
    if (client == nullptr) {
      SaveError(errptr, NullArgument("client"));
      return nullptr;
    }
    Result<Ticket> ticket = client->rep->checkpoint(step);
    if (SaveError(errptr, ticket.status())) return nullptr;
    return new ckpt_ticket_t{std::move(ticket).value()};
  });
}

uint64_t ckpt_client_restore_latest(ckpt_client_t* client, char** errptr) {
  return Guarded(errptr, uint64_t{0}, [&]() -> uint64_t {
    if (client == nullptr) {
      SaveError(errptr, NullArgument("client"));
      return 0;
    }
    Result<uint64_t> step = client->rep->restore();
    if (SaveError(errptr, step.status())) return 0;
    return *step;
  });
}

void ckpt_client_restore_step(ckpt_client_t* client, uint64_t step, char** errptr) {
  GuardedVoid(errptr, [&] {
    if (client == nullptr) {
      SaveError(errptr, NullArgument("client"));
      return;
    }
    Result<uint64_t> restored = client->rep->restore(step);
    SaveError(errptr, restored.status());
  });
}

unsigned char ckpt_client_latest_step(const ckpt_client_t* client, uint64_t* step) {
  if (client == nullptr) return 0;
  const std::optional<uint64_t> latest = client->rep->latest_step();
  if (!latest.has_value()) return 0;
  if (step != nullptr) *step = *latest;
  return 1;
}

unsigned char ckpt_client_should_checkpoint(const ckpt_client_t* client, uint64_t step) {
  return client != nullptr && client->rep->should_checkpoint(step) ? 1 : 0;
}

void ckpt_client_flush(ckpt_client_t* client, char** errptr) {
  GuardedVoid(errptr, [&] {
    if (client == nullptr) {
      SaveError(errptr, NullArgument("client"));
      return;
    }
    SaveError(errptr, client->rep->flush());
  });
}

// ---- ticket ----

void ckpt_ticket_destroy(ckpt_ticket_t* ticket) { delete ticket; }

uint64_t ckpt_ticket_step(const ckpt_ticket_t* ticket) {
  return ticket == nullptr ? 0 : ticket->rep.step();
}

void ckpt_ticket_wait_copied(const ckpt_ticket_t* ticket, char** errptr) {
  GuardedVoid(errptr, [&] {
    if (ticket == nullptr) {
      SaveError(errptr, NullArgument("ticket"));
      return;
    }
    SaveError(errptr, ticket->rep.wait_copied());
  });
}

void ckpt_ticket_wait_durable(const ckpt_ticket_t* ticket, char** errptr) {
  GuardedVoid(errptr, [&] {
    if (ticket == nullptr) {
      SaveError(errptr, NullArgument("ticket"));
      return;
    }
    SaveError(errptr, ticket->rep.wait_durable());
  });
}

unsigned char ckpt_ticket_copied(const ckpt_ticket_t* ticket) {
  return ticket != nullptr && ticket->rep.copied() ? 1 : 0;
}
unsigned char ckpt_ticket_durable(const ckpt_ticket_t* ticket) {
  return ticket != nullptr && ticket->rep.durable() ? 1 : 0;
}
unsigned char ckpt_ticket_finished(const ckpt_ticket_t* ticket) {
  return ticket != nullptr && ticket->rep.finished() ? 1 : 0;
}

void ckpt_ticket_status(const ckpt_ticket_t* ticket, char** errptr) {
  GuardedVoid(errptr, [&] {
    if (ticket == nullptr) {
      SaveError(errptr, NullArgument("ticket"));
      return;
    }
    SaveError(errptr, ticket->rep.status());
  });
}

uint64_t ckpt_ticket_logical_bytes(const ckpt_ticket_t* ticket) {
  return ticket == nullptr ? 0 : ticket->rep.stats().logical_bytes;
}
uint64_t ckpt_ticket_written_bytes(const ckpt_ticket_t* ticket) {
  return ticket == nullptr ? 0 : ticket->rep.stats().written_bytes;
}

// ---- store ----

ckpt_store_t* ckpt_store_open_read_only(const char* dir, char** errptr) {
  return Guarded(errptr, static_cast<ckpt_store_t*>(nullptr), [&]() -> ckpt_store_t* {
    if (dir == nullptr) {
      SaveError(errptr, NullArgument("store directory"));
      return nullptr;
    }
    ckpt::StoreOptions options;
    options.create_if_missing = false;
    options.read_only = true;
    Result<std::shared_ptr<Store>> opened = Store::Open(dir, options);
    if (SaveError(errptr, opened.status())) return nullptr;
    return new ckpt_store_t{std::move(opened).value()};
  });
}

void ckpt_store_close(ckpt_store_t* store) { delete store; }

ckpt_checkpoint_list_t* ckpt_store_list(const ckpt_store_t* store, const char* job,
                                        char** errptr) {
  return Guarded(errptr, static_cast<ckpt_checkpoint_list_t*>(nullptr),
                 [&]() -> ckpt_checkpoint_list_t* {
                   if (store == nullptr) {
                     SaveError(errptr, NullArgument("store"));
                     return nullptr;
                   }
                   Result<std::vector<CheckpointInfo>> list = store->rep->List(OrEmpty(job));
                   if (SaveError(errptr, list.status())) return nullptr;
                   return new ckpt_checkpoint_list_t{std::move(list).value()};
                 });
}

void ckpt_checkpoint_list_destroy(ckpt_checkpoint_list_t* list) { delete list; }

size_t ckpt_checkpoint_list_count(const ckpt_checkpoint_list_t* list) {
  return list == nullptr ? 0 : list->rep.size();
}
const char* ckpt_checkpoint_list_job(const ckpt_checkpoint_list_t* list, size_t i) {
  const CheckpointInfo* info = At(list, i);
  return info == nullptr ? nullptr : info->job.c_str();
}
uint64_t ckpt_checkpoint_list_step(const ckpt_checkpoint_list_t* list, size_t i) {
  const CheckpointInfo* info = At(list, i);
  return info == nullptr ? 0 : info->step;
}
int64_t ckpt_checkpoint_list_created_unix_ms(const ckpt_checkpoint_list_t* list, size_t i) {
  const CheckpointInfo* info = At(list, i);
  return info == nullptr ? 0 : info->created_unix_ms;
}
uint64_t ckpt_checkpoint_list_logical_bytes(const ckpt_checkpoint_list_t* list, size_t i) {
  const CheckpointInfo* info = At(list, i);
  return info == nullptr ? 0 : info->logical_bytes;
}
uint64_t ckpt_checkpoint_list_written_bytes(const ckpt_checkpoint_list_t* list, size_t i) {
  const CheckpointInfo* info = At(list, i);
  return info == nullptr ? 0 : info->written_bytes;
}
size_t ckpt_checkpoint_list_region_count(const ckpt_checkpoint_list_t* list, size_t i) {
  const CheckpointInfo* info = At(list, i);
  return info == nullptr ? 0 : info->regions.size();
}
const char* ckpt_checkpoint_list_region_name(const ckpt_checkpoint_list_t* list, size_t i,
                                             size_t r) {
  const ckpt::RegionInfo* region = RegionAt(list, i, r);
  return region == nullptr ? nullptr : region->name.c_str();
}
int ckpt_checkpoint_list_region_type(const ckpt_checkpoint_list_t* list, size_t i, size_t r) {
  const ckpt::RegionInfo* region = RegionAt(list, i, r);
  return region == nullptr ? -1 : static_cast<int>(region->type);
}
uint64_t ckpt_checkpoint_list_region_bytes(const ckpt_checkpoint_list_t* list, size_t i,
                                           size_t r) {
  const ckpt::RegionInfo* region = RegionAt(list, i, r);
  return region == nullptr ? 0 : region->bytes;
}

ckpt_fault_list_t* ckpt_store_verify(const ckpt_store_t* store, const char* job, uint64_t step,
                                     char** errptr) {
  return Guarded(errptr, static_cast<ckpt_fault_list_t*>(nullptr),
                 [&]() -> ckpt_fault_list_t* {
                   if (store == nullptr) {
                     SaveError(errptr, NullArgument("store"));
                     return nullptr;
                   }
                   Result<std::vector<ChunkFault>> faults =
                       store->rep->Verify(OrEmpty(job), step);
                   if (SaveError(errptr, faults.status())) return nullptr;
                   auto list = std::make_unique<ckpt_fault_list_t>();
                   list->rep = std::move(faults).value();
                   for (const ChunkFault& fault : list->rep) {
                     list->described.push_back(fault.ToString());
                   }
                   return list.release();
                 });
}

void ckpt_fault_list_destroy(ckpt_fault_list_t* faults) { delete faults; }

size_t ckpt_fault_list_count(const ckpt_fault_list_t* faults) {
  return faults == nullptr ? 0 : faults->rep.size();
}
const char* ckpt_fault_list_region(const ckpt_fault_list_t* faults, size_t i) {
  if (faults == nullptr || i >= faults->rep.size()) return nullptr;
  return faults->rep[i].region.c_str();
}
uint64_t ckpt_fault_list_chunk_index(const ckpt_fault_list_t* faults, size_t i) {
  if (faults == nullptr || i >= faults->rep.size()) return 0;
  return faults->rep[i].chunk_index;
}
const char* ckpt_fault_list_describe(const ckpt_fault_list_t* faults, size_t i) {
  if (faults == nullptr || i >= faults->rep.size()) return nullptr;
  return faults->described[i].c_str();
}

}  // extern "C"
