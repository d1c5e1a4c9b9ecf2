// example-train: a real training loop that checkpoints with ckpt.
//
// Trains examples/mlp_model.h for --steps steps, checkpointing every
// --ckpt-every steps. The ckpt calls are marked "ckpt:"; they are all a
// training loop needs. With --fail-at-step F the process SIGKILLs itself at
// step F (right after that step's snapshot is copied, if F is a checkpoint
// step, so the checkpoint in flight is lost as in a real crash); --resume
// then continues from the newest committed checkpoint and ends bit-identical
// to a run that was never interrupted.
//
// --device cuda trains the same model with CUDA kernels (mlp_model_cuda.h) on
// one stream, with the stream-ordered calls: checkpoint(step, stream) and
// ticket.guard(stream), so the host never waits for a snapshot. Same flags,
// same bit-exact resume guarantee (on the same GPU). Without a usable GPU, or
// in a build without the CUDA backend, it exits 2 saying why.
#include <signal.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "ckpt/client.h"
#include "ckpt/policy.h"
#include "mlp_model.h"
#ifdef CKPT_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "mlp_model_cuda.h"
#endif

namespace po = boost::program_options;

namespace {

struct Flags {
  std::string store;
  std::string job;
  uint64_t steps = 0;
  uint64_t ckpt_every = 0;
  std::string ckpt_policy;
  uint64_t model_mb = 0;
  uint64_t frozen_mb = 0;
  bool resume = false;
  std::string dump_final;
  std::optional<uint64_t> fail_at_step;
  uint64_t chunk_kb = 0;
  uint64_t staging_mb = 0;
  std::string compression;
  uint64_t batch = 0;
  uint64_t log_every = 0;
  std::string device;
  std::string daemon;
};

// Parses the command line; exits 0 for --help and 2 for bad input.
Flags ParseFlags(int argc, char** argv) {
  Flags f;
  uint64_t fail_at = 0;
  po::options_description desc(
      "example-train: an MLP trained with Adam, checkpointed with ckpt\n\nOptions");
  desc.add_options()
      ("help,h", "show this help")
      ("store", po::value(&f.store), "store directory (created if missing); required without --daemon")
      ("daemon", po::value(&f.daemon),
       "hand checkpoints to the ckptd listening on this Unix socket (daemon mode; it writes its own store)")
      ("job", po::value(&f.job)->default_value("example"), "job name")
      ("steps", po::value(&f.steps)->default_value(300), "optimizer steps to train in total")
      ("ckpt-every", po::value(&f.ckpt_every)->default_value(50), "checkpoint every K steps (0 = never)")
      ("ckpt-policy", po::value(&f.ckpt_policy),
       "instead of --ckpt-every: checkpoint when this interval policy says so (young, daly, "
       "optimal or hazard), from the job's failure history and measured costs in the store")
      ("model-mb", po::value(&f.model_mb)->default_value(64),
       "MiB of trainable state: weights plus both Adam moments")
      ("frozen-mb", po::value(&f.frozen_mb)->default_value(0),
       "MiB of frozen parameters (an input embedding that never changes)")
      ("resume", po::bool_switch(&f.resume), "restore the newest committed checkpoint, if any")
      ("dump-final", po::value(&f.dump_final), "write the final state's bytes to this file")
      ("fail-at-step", po::value(&fail_at),
       "SIGKILL this process at step F (after the snapshot is copied, if F is a checkpoint step)")
      ("chunk-kb", po::value(&f.chunk_kb)->default_value(4096), "chunk size in KiB")
      ("staging-mb", po::value(&f.staging_mb)->default_value(256), "staging pool size in MiB")
      ("compression", po::value(&f.compression)->default_value("auto"),
       "off, on (byte planes + zstd over each chunk; 'zstd' is the same) or auto (only the planes that pay)")
      ("batch", po::value(&f.batch)->default_value(4), "samples per step")
      ("log-every", po::value(&f.log_every)->default_value(50), "print the loss every N steps")
      ("device", po::value(&f.device)->default_value("host"),
       "host (plain C++) or cuda (CUDA kernels; device-memory state, stream-ordered checkpoints)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    if (vm.count("help")) {
      std::cout << desc << "\n";
      std::exit(0);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "example-train: " << e.what() << "\n(see example-train --help)\n";
    std::exit(2);
  }
  if (vm.count("fail-at-step")) f.fail_at_step = fail_at;
  if (f.store.empty() && f.daemon.empty()) {
    std::cerr << "example-train: --store or --daemon is required\n(see example-train --help)\n";
    std::exit(2);
  }
  if (f.compression != "off" && f.compression != "on" && f.compression != "zstd" && f.compression != "auto") {
    std::cerr << "example-train: --compression must be off, on or auto, not '" << f.compression << "'\n";
    std::exit(2);
  }
  if (!f.ckpt_policy.empty()) {
    auto kind = ckpt::policy::ParsePolicyKind(f.ckpt_policy);
    if (!kind.ok() || *kind == ckpt::policy::PolicyKind::kFixed) {
      std::cerr << "example-train: --ckpt-policy must be young, daly, optimal or hazard, not '"
                << f.ckpt_policy << "'\n";
      std::exit(2);
    }
    f.ckpt_every = 0;
  }
  if (f.device != "host" && f.device != "cuda") {
    std::cerr << "example-train: --device must be host or cuda, not '" << f.device << "'\n";
    std::exit(2);
  }
  if (f.model_mb == 0) {
    std::cerr << "example-train: --model-mb must be at least 1\n";
    std::exit(2);
  }
  return f;
}

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void ReportDurable(const ckpt::Ticket& t) {
  const ckpt::CheckpointStats s = t.stats();
  std::printf("  checkpoint step %llu durable: %.1f MiB logical, %.1f MiB written, %llu/%llu chunks new, "
              "copied in %.3f s, durable in %.3f s\n",
              static_cast<unsigned long long>(t.step()), s.logical_bytes / 1048576.0,
              s.written_bytes / 1048576.0, static_cast<unsigned long long>(s.new_chunks),
              static_cast<unsigned long long>(s.chunks), s.copy_seconds, s.durable_seconds);
}

int Fail(const std::string& what, const ckpt::Status& s) {
  std::cerr << "example-train: " << what << ": " << s.ToString() << "\n";
  return 1;
}

// Where the model lives and how the loop talks to ckpt about it.
class Trainer {
 public:
  virtual ~Trainer() = default;
  // (name, pointer, floats) of each region to protect.
  struct Region {
    const char* name;
    float* data;
    size_t floats;
  };
  virtual std::vector<Region> Regions() = 0;
  virtual void ComputeGradients(uint64_t step) = 0;  // reads the state: may overlap a snapshot
  // ckpt: the guard. The update that follows must not run before the snapshot is copied.
  virtual ckpt::Status Guard(const ckpt::Ticket& t) = 0;
  virtual void ApplyAdam(uint64_t step) = 0;
  virtual float Loss() = 0;
  virtual ckpt::Result<ckpt::Ticket> Checkpoint(ckpt::Client& client, uint64_t step) = 0;  // ckpt: returns at once
  // Empty, or the first device error so far.
  virtual std::string Check() { return ""; }
  // The final state, in region order (waits for the device).
  virtual std::string FinalState(std::vector<std::vector<float>>* out) = 0;
};

class HostTrainer final : public Trainer {
 public:
  explicit HostTrainer(example::MlpModel& model) : model_(model) {}
  std::vector<Region> Regions() override {
    return {{"weights", model_.params().data(), model_.params().size()},
            {"adam.exp_avg", model_.exp_avg().data(), model_.exp_avg().size()},
            {"adam.exp_avg_sq", model_.exp_avg_sq().data(), model_.exp_avg_sq().size()},
            {"frozen.embedding", model_.frozen().data(), model_.frozen().size()}};
  }
  void ComputeGradients(uint64_t step) override { loss_ = model_.ComputeGradients(step); }
  ckpt::Status Guard(const ckpt::Ticket& t) override { return t.wait_copied(); }
  void ApplyAdam(uint64_t step) override { model_.ApplyAdam(step); }
  float Loss() override { return loss_; }
  ckpt::Result<ckpt::Ticket> Checkpoint(ckpt::Client& client, uint64_t step) override {
    return client.checkpoint(step);
  }
  std::string FinalState(std::vector<std::vector<float>>* out) override {
    *out = {model_.params(), model_.exp_avg(), model_.exp_avg_sq(), model_.frozen()};
    return "";
  }

 private:
  example::MlpModel& model_;
  float loss_ = 0;
};

#ifdef CKPT_HAVE_CUDA
class CudaTrainer final : public Trainer {
 public:
  CudaTrainer(std::unique_ptr<example::MlpModelCuda> model, cudaStream_t stream)
      : model_(std::move(model)), stream_(stream) {}
  ~CudaTrainer() override {
    (void)cudaStreamSynchronize(stream_);
    (void)cudaStreamDestroy(stream_);
  }
  std::vector<Region> Regions() override {
    return {{"weights", model_->params(), model_->param_count()},
            {"adam.exp_avg", model_->exp_avg(), model_->param_count()},
            {"adam.exp_avg_sq", model_->exp_avg_sq(), model_->param_count()},
            {"frozen.embedding", model_->frozen(), model_->frozen_count()}};
  }
  void ComputeGradients(uint64_t step) override { model_->ComputeGradients(step, stream_); }
  // The stream waits for the copy; the host goes on enqueueing.
  ckpt::Status Guard(const ckpt::Ticket& t) override { return t.guard(stream_); }
  void ApplyAdam(uint64_t step) override { model_->ApplyAdam(step, stream_); }
  float Loss() override { return model_->Loss(stream_); }
  ckpt::Result<ckpt::Ticket> Checkpoint(ckpt::Client& client, uint64_t step) override {
    return client.checkpoint(step, stream_);
  }
  std::string Check() override { return example::MlpModelCuda::CheckError(); }
  std::string FinalState(std::vector<std::vector<float>>* out) override {
    if (cudaStreamSynchronize(stream_) != cudaSuccess) return example::MlpModelCuda::CheckError();
    out->clear();
    for (const Region& r : Regions()) {
      out->emplace_back();
      std::string e = example::MlpModelCuda::ToHost(r.data, r.floats, &out->back());
      if (!e.empty()) return e;
    }
    return "";
  }

 private:
  std::unique_ptr<example::MlpModelCuda> model_;
  cudaStream_t stream_;
};
#endif

// Exits 2 when --device cuda cannot run here.
std::unique_ptr<Trainer> MakeCudaTrainer(example::MlpModel& init) {
#ifdef CKPT_HAVE_CUDA
  const std::string why = example::MlpModelCuda::NoDeviceReason();
  if (!why.empty()) {
    std::cerr << "example-train: --device cuda: no CUDA device: " << why << "\n";
    std::exit(2);
  }
  std::string error;
  auto model = example::MlpModelCuda::Create(init, &error);
  if (!model) {
    std::cerr << "example-train: --device cuda: " << error << "\n";
    std::exit(1);
  }
  cudaStream_t stream = nullptr;
  if (cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) != cudaSuccess) {
    std::cerr << "example-train: --device cuda: cannot create a stream: " << example::MlpModelCuda::CheckError()
              << "\n";
    std::exit(1);
  }
  return std::make_unique<CudaTrainer>(std::move(model), stream);
#else
  (void)init;
  std::cerr << "example-train: --device cuda: this build has no CUDA backend (no CUDA toolkit at build "
               "time, or configured with -DCKPT_WITH_CUDA=OFF)\n";
  std::exit(2);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress survives a SIGKILL in logs
  const Flags flags = ParseFlags(argc, argv);
  example::MlpModel model(flags.model_mb << 20, flags.frozen_mb << 20, flags.batch, /*seed=*/42);
  // --device cuda: the initial state is made on the host (same values), then
  // lives on the device.
  std::unique_ptr<Trainer> trainer =
      flags.device == "cuda" ? MakeCudaTrainer(model) : std::make_unique<HostTrainer>(model);

  // ckpt: open a client and protect the training state.
  ckpt::Options options;
  options.store_dir = flags.store;
  options.job = flags.job;
  options.chunk_bytes = flags.chunk_kb << 10;
  options.staging_bytes = flags.staging_mb << 20;
  options.compression = flags.compression == "off"    ? ckpt::Compression::kOff
                        : flags.compression == "auto" ? ckpt::Compression::kAuto
                                                      : ckpt::Compression::kZstd;
  options.checkpoint_every_steps = flags.ckpt_every;
  options.daemon_socket = flags.daemon;  // empty: the engine runs embedded
  if (!flags.ckpt_policy.empty()) {
    ckpt::policy::PolicyConfig policy;  // default prior: job MTBF 1 day
    policy.kind = ckpt::policy::ParsePolicyKind(flags.ckpt_policy).value();
    options.interval_policy = std::make_shared<ckpt::policy::PolicyConfig>(policy);
  }
  auto opened = ckpt::Client::Open(options);
  if (!opened.ok()) return Fail("cannot open the store", opened.status());
  std::unique_ptr<ckpt::Client> client = std::move(opened).value();
  const auto f32 = ckpt::ElementType::kFloat32;
  for (const Trainer::Region& r : trainer->Regions()) {
    if (r.floats == 0) continue;
    ckpt::Status s = client->protect(r.name, r.data, r.floats * sizeof(float), f32);
    if (!s.ok()) return Fail("protect", s);
  }
  std::printf("example-train: job %s, %zu parameters (hidden %zu), %.1f MiB trainable + %.1f MiB frozen%s\n",
              flags.job.c_str(), model.param_count(), model.hidden(),
              3.0 * model.param_count() * sizeof(float) / 1048576.0,
              model.frozen().size() * sizeof(float) / 1048576.0,
              flags.device == "cuda" ? ", on the CUDA device" : "");

  uint64_t step = 0;
  if (flags.resume) {
    // ckpt: resume from the newest committed checkpoint.
    auto restored = client->restore();
    if (restored.ok()) {
      step = *restored;
      std::printf("restored step %llu\n", static_cast<unsigned long long>(step));
    } else if (restored.status().IsNotFound()) {
      std::printf("no checkpoint of job %s yet; starting at step 0\n", flags.job.c_str());
    } else {
      return Fail("restore", restored.status());
    }
  }

  const auto t0 = std::chrono::steady_clock::now();
  std::optional<ckpt::Ticket> in_flight;
  bool reported = false;
  auto report_once = [&] {
    if (in_flight && !reported && in_flight->durable()) {
      ReportDurable(*in_flight);
      reported = true;
    }
  };
  uint64_t checkpoints = 0;
  bool guarded = false;
  float loss = 0;
  while (step < flags.steps) {
    ++step;
    trainer->ComputeGradients(step);
    if (in_flight && !guarded) {
      // ckpt: the guard. The update below must not run before the snapshot is
      // copied; once per checkpoint is enough (later updates are ordered after it).
      ckpt::Status s = trainer->Guard(*in_flight);
      if (!s.ok()) std::fprintf(stderr, "example-train: checkpoint step %llu failed: %s\n",
                                static_cast<unsigned long long>(in_flight->step()), s.ToString().c_str());
      guarded = true;
    }
    report_once();
    trainer->ApplyAdam(step);
    if (flags.log_every > 0 && step % flags.log_every == 0) {
      loss = trainer->Loss();
      std::printf("step %llu loss %.6f (%.1f s)\n", static_cast<unsigned long long>(step), loss, Seconds(t0));
    }
    if (std::string e = trainer->Check(); !e.empty()) {
      std::cerr << "example-train: device error at step " << step << ": " << e << "\n";
      return 1;
    }

    if (client->should_checkpoint(step)) {  // ckpt: ask the policy
      if (in_flight) (void)in_flight->wait_durable();  // at most one checkpoint in flight
      report_once();
      auto ticket = trainer->Checkpoint(*client, step);  // ckpt: returns at once
      if (!ticket.ok()) return Fail("checkpoint", ticket.status());
      in_flight = *ticket;
      guarded = false;
      reported = false;
      ++checkpoints;
    }
    if (flags.fail_at_step && step == *flags.fail_at_step) {
      if (in_flight && in_flight->step() == step) (void)in_flight->wait_copied();
      std::printf("example-train: --fail-at-step %llu: killing myself now\n",
                  static_cast<unsigned long long>(step));
      std::fflush(stdout);
      ::kill(::getpid(), SIGKILL);
    }
  }
  loss = trainer->Loss();

  ckpt::Status flushed = client->flush();  // ckpt: everything durable before exit
  report_once();
  if (!flushed.ok())
    std::fprintf(stderr, "example-train: WARNING: a checkpoint failed: %s\n", flushed.ToString().c_str());
  std::printf("done: %llu steps, final loss %.6f, %llu checkpoints requested, %.1f s\n",
              static_cast<unsigned long long>(step), loss, static_cast<unsigned long long>(checkpoints),
              Seconds(t0));

  if (!flags.dump_final.empty()) {
    std::vector<std::vector<float>> state;
    if (std::string e = trainer->FinalState(&state); !e.empty()) {
      std::cerr << "example-train: cannot read the final state: " << e << "\n";
      return 1;
    }
    std::ofstream out(flags.dump_final, std::ios::binary | std::ios::trunc);
    for (const auto& vec : state)
      out.write(reinterpret_cast<const char*>(vec.data()), static_cast<std::streamsize>(vec.size() * sizeof(float)));
    out.close();
    if (!out) {
      std::cerr << "example-train: cannot write " << flags.dump_final << "\n";
      return 1;
    }
    std::printf("final state written to %s\n", flags.dump_final.c_str());
  }
  return 0;
}
