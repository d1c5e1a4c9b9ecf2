// ckpt._ckpt: the pybind11 binding of ckpt::Client, ckpt::Ticket and
// ckpt::Store::Get. It deals in raw addresses and ckpt element-type names;
// the pure-Python package on top (python/ckpt/__init__.py, torch.py) maps
// PyTorch tensors and numpy arrays onto it and keeps them alive.
//
// Errors: every non-OK ckpt::Status raises an exception of the hierarchy
// below (CkptError and one subclass per Status::Code), with the Status
// message; nothing returns an error code.
//
// The GIL is released around every call that may block: opening the store,
// checkpoint() (it may wait for the copier's queue), restore(), flush(),
// close() and the ticket waits, so other Python threads (a data loader)
// keep running.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ckpt/build_info.h"
#include "ckpt/client.h"
#include "ckpt/store.h"
#include "ckpt/types.h"

namespace py = pybind11;

namespace {

// Status::Code -> the Python exception class raised for it.
std::map<ckpt::Status::Code, py::object>& ErrorClasses() {
  static auto* classes = new std::map<ckpt::Status::Code, py::object>();
  return *classes;
}

[[noreturn]] void Raise(const ckpt::Status& status) {
  auto& classes = ErrorClasses();
  auto it = classes.find(status.code());
  PyObject* type = it != classes.end() ? it->second.ptr() : classes.at(ckpt::Status::Code::kOk).ptr();
  PyErr_SetString(type, status.ToString().c_str());
  throw py::error_already_set();
}

void Check(const ckpt::Status& status) {
  if (!status.ok()) Raise(status);
}

template <typename T>
T Value(ckpt::Result<T> result) {
  if (!result.ok()) Raise(result.status());
  return std::move(result).value();
}

CUstream_st* StreamFromInt(uintptr_t stream) { return reinterpret_cast<CUstream_st*>(stream); }

ckpt::Compression ParseCompression(const std::string& name) {
  if (name == "on" || name == "zstd") return ckpt::Compression::kZstd;
  if (name == "off") return ckpt::Compression::kOff;
  if (name == "auto") return ckpt::Compression::kAuto;
  Raise(ckpt::Status::InvalidArgument("compression must be 'auto', 'on' ('zstd') or 'off', not '" + name + "'"));
}

py::object OptionalShape(const std::optional<ckpt::Shape>& shape) {
  if (!shape) return py::none();
  py::tuple t(shape->size());
  for (size_t i = 0; i < shape->size(); ++i) t[i] = (*shape)[i];
  return t;
}

py::dict InfoToDict(const ckpt::CheckpointInfo& info) {
  py::list regions;
  for (const auto& r : info.regions) {
    py::dict d;
    d["name"] = r.name;
    d["dtype"] = std::string(ckpt::ElementTypeName(r.type));
    d["bytes"] = r.bytes;
    d["chunks"] = r.chunks;
    d["shape"] = OptionalShape(r.shape);
    regions.append(std::move(d));
  }
  py::dict d;
  d["job"] = info.job;
  d["step"] = info.step;
  d["created_unix_ms"] = info.created_unix_ms;
  d["parent_step"] = info.parent_step ? py::object(py::int_(*info.parent_step)) : py::none();
  d["chunk_bytes"] = info.chunk_bytes;
  d["logical_bytes"] = info.logical_bytes;
  d["written_bytes"] = info.written_bytes;
  d["chunks"] = info.chunks;
  d["new_chunks"] = info.new_chunks;
  d["regions"] = std::move(regions);
  d["user_state"] = py::bytes(info.user_state);
  return d;
}

// A Client that can be closed explicitly (Python's lifetime is not C++'s).
class PyClient {
 public:
  explicit PyClient(std::unique_ptr<ckpt::Client> client) : client_(std::move(client)) {}

  ckpt::Client& get() {
    if (!client_)
      Raise(ckpt::Status::FailedPrecondition("the client is closed"));
    return *client_;
  }

  // Waits for checkpoints in flight (the destructor flushes) and closes.
  void Close() {
    std::unique_ptr<ckpt::Client> closing = std::move(client_);
    py::gil_scoped_release release;
    closing.reset();
  }

 private:
  std::unique_ptr<ckpt::Client> client_;
};

std::unique_ptr<PyClient> OpenClient(const std::string& store, const std::string& job,
                                     const std::string& daemon, size_t chunk_bytes,
                                     size_t staging_bytes, const std::string& compression,
                                     int zstd_level, uint64_t checkpoint_every_steps,
                                     bool create_if_missing, bool use_direct_io) {
  ckpt::Options o;
  o.store_dir = store;
  o.job = job;
  o.daemon_socket = daemon;
  o.chunk_bytes = chunk_bytes;
  o.staging_bytes = staging_bytes;
  o.compression = ParseCompression(compression);
  o.zstd_level = zstd_level;
  o.checkpoint_every_steps = checkpoint_every_steps;
  o.store.create_if_missing = create_if_missing;
  o.store.use_direct_io = use_direct_io;
  ckpt::Result<std::unique_ptr<ckpt::Client>> opened = ckpt::Status::Aborted("not run");
  {
    py::gil_scoped_release release;
    opened = ckpt::Client::Open(o);
  }
  return std::make_unique<PyClient>(Value(std::move(opened)));
}

}  // namespace

PYBIND11_MODULE(_ckpt, m) {
  m.doc() = "Low-level binding of the ckpt C++ library; use the `ckpt` package instead.";

  // The exception hierarchy. ErrorClasses()[kOk] is the base class, raised
  // for codes without a subclass.
  py::object base = py::reinterpret_borrow<py::object>(
      py::exception<ckpt::Status>(m, "CkptError", PyExc_Exception).ptr());
  base.attr("__doc__") = "Base class of every error the ckpt library reports.";
  ErrorClasses()[ckpt::Status::Code::kOk] = base;
  const std::pair<ckpt::Status::Code, const char*> kinds[] = {
      {ckpt::Status::Code::kInvalidArgument, "InvalidArgumentError"},
      {ckpt::Status::Code::kNotFound, "NotFoundError"},
      {ckpt::Status::Code::kAlreadyExists, "AlreadyExistsError"},
      {ckpt::Status::Code::kCorruption, "CorruptionError"},
      {ckpt::Status::Code::kIOError, "StorageIOError"},
      {ckpt::Status::Code::kNoSpace, "NoSpaceError"},
      {ckpt::Status::Code::kBusy, "BusyError"},
      {ckpt::Status::Code::kFailedPrecondition, "FailedPreconditionError"},
      {ckpt::Status::Code::kUnsupported, "UnsupportedError"},
      {ckpt::Status::Code::kAborted, "AbortedError"},
  };
  for (const auto& [code, name] : kinds) {
    py::object cls = py::reinterpret_steal<py::object>(
        PyErr_NewException((std::string("ckpt._ckpt.") + name).c_str(), base.ptr(), nullptr));
    m.attr(name) = cls;
    ErrorClasses()[code] = cls;
  }

  m.attr("MAX_USER_STATE_BYTES") = ckpt::kMaxUserStateBytes;
  m.attr("MAX_SHAPE_RANK") = ckpt::kMaxShapeRank;
  m.def("build_info", [] {
    const ckpt::BuildInfo& b = ckpt::GetBuildInfo();
    py::dict d;
    d["version"] = b.version;
    d["cuda_backend"] = b.cuda_backend;
    d["cuda_toolkit_version"] = b.cuda_toolkit_version;
    return d;
  });
  m.def("element_size", [](const std::string& dtype) {
    auto t = ckpt::ParseElementType(dtype);
    if (!t) Raise(ckpt::Status::InvalidArgument("unknown ckpt element type '" + dtype + "'"));
    return ckpt::ElementSize(*t);
  });

  py::class_<ckpt::Ticket>(m, "Ticket")
      .def_property_readonly("step", &ckpt::Ticket::step)
      .def("wait_copied", [](const ckpt::Ticket& t) {
        ckpt::Status s;
        {
          py::gil_scoped_release release;
          s = t.wait_copied();
        }
        Check(s);
      })
      .def("wait_durable", [](const ckpt::Ticket& t) {
        ckpt::Status s;
        {
          py::gil_scoped_release release;
          s = t.wait_durable();
        }
        Check(s);
      })
      .def("guard", [](const ckpt::Ticket& t, uintptr_t stream) {
        ckpt::Status s;
        {
          py::gil_scoped_release release;
          s = t.guard(StreamFromInt(stream));
        }
        Check(s);
      }, py::arg("stream") = 0)
      .def_property_readonly("copied", &ckpt::Ticket::copied)
      .def_property_readonly("durable", &ckpt::Ticket::durable)
      .def_property_readonly("finished", &ckpt::Ticket::finished)
      .def("check", [](const ckpt::Ticket& t) { Check(t.status()); })
      .def("stats", [](const ckpt::Ticket& t) {
        const ckpt::CheckpointStats s = t.stats();
        py::dict d;
        d["logical_bytes"] = s.logical_bytes;
        d["written_bytes"] = s.written_bytes;
        d["chunks"] = s.chunks;
        d["new_chunks"] = s.new_chunks;
        d["copy_seconds"] = s.copy_seconds;
        d["durable_seconds"] = s.durable_seconds;
        return d;
      });

  py::class_<PyClient>(m, "Client")
      .def(py::init(&OpenClient), py::arg("store"), py::arg("job"), py::arg("daemon") = "",
           py::arg("chunk_bytes") = size_t{4} << 20, py::arg("staging_bytes") = size_t{256} << 20,
           py::arg("compression") = "auto", py::arg("zstd_level") = 1,
           py::arg("checkpoint_every_steps") = 0, py::arg("create_if_missing") = true,
           py::arg("use_direct_io") = true)
      .def("protect",
           [](PyClient& c, const std::string& name, uintptr_t address, size_t bytes,
              const std::string& dtype, std::optional<std::vector<uint64_t>> shape) {
             auto type = ckpt::ParseElementType(dtype);
             if (!type)
               Raise(ckpt::Status::InvalidArgument("region '" + name + "': unknown ckpt element type '" +
                                                   dtype + "'"));
             void* data = reinterpret_cast<void*>(address);
             if (shape) {
               Check(c.get().protect(name, data, bytes, *type, *shape));
             } else {
               Check(c.get().protect(name, data, bytes, *type));
             }
           },
           py::arg("name"), py::arg("address"), py::arg("bytes"), py::arg("dtype"),
           py::arg("shape") = py::none())
      .def("regions", [](PyClient& c) {
        py::list out;
        for (const auto& r : c.get().regions()) {
          py::dict d;
          d["name"] = r.name;
          d["bytes"] = r.bytes;
          d["dtype"] = std::string(ckpt::ElementTypeName(r.type));
          d["memory"] = std::string(ckpt::MemoryKindName(r.memory));
          d["device"] = r.device;
          d["shape"] = OptionalShape(r.shape);
          out.append(std::move(d));
        }
        return out;
      })
      .def("checkpoint",
           [](PyClient& c, uint64_t step, uintptr_t stream, py::bytes user_state) {
             ckpt::Client& client = c.get();
             std::string state = user_state;  // copied with the GIL held
             ckpt::Result<ckpt::Ticket> t = ckpt::Status::Aborted("not run");
             {
               py::gil_scoped_release release;
               t = client.checkpoint(step, StreamFromInt(stream), std::move(state));
             }
             return Value(std::move(t));
           },
           py::arg("step"), py::arg("stream") = 0, py::arg("user_state") = py::bytes())
      .def("restore",
           [](PyClient& c, std::optional<uint64_t> step) {
             ckpt::Client& client = c.get();
             ckpt::Result<uint64_t> r = ckpt::Status::Aborted("not run");
             {
               py::gil_scoped_release release;
               r = client.restore(step);
             }
             return Value(std::move(r));
           },
           py::arg("step") = py::none())
      .def("restored_user_state", [](PyClient& c) { return py::bytes(c.get().restored_user_state()); })
      .def("latest_step", [](PyClient& c) { return c.get().latest_step(); })
      .def("should_checkpoint", [](PyClient& c, uint64_t step) { return c.get().should_checkpoint(step); })
      .def("flush", [](PyClient& c) {
        ckpt::Client& client = c.get();
        ckpt::Status s;
        {
          py::gil_scoped_release release;
          s = client.flush();
        }
        Check(s);
      })
      .def("info", [](PyClient& c, uint64_t step) {
        ckpt::Client& client = c.get();
        ckpt::Result<ckpt::CheckpointInfo> info = ckpt::Status::Aborted("not run");
        {
          py::gil_scoped_release release;  // in daemon mode a round trip to ckptd
          info = client.info(step);
        }
        return InfoToDict(Value(std::move(info)));
      }, py::arg("step"))
      .def("close", &PyClient::Close);
}
