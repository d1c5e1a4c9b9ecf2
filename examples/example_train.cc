// example-train: a real training loop that checkpoints with ckpt.
//
// Trains examples/mlp_model.h for --steps steps, checkpointing every
// --ckpt-every steps. The ckpt calls are marked "ckpt:"; they are all a
// training loop needs. With --fail-at-step F the process SIGKILLs itself at
// step F (right after that step's snapshot is copied, if F is a checkpoint
// step, so the checkpoint in flight is lost as in a real crash); --resume
// then continues from the newest committed checkpoint and ends bit-identical
// to a run that was never interrupted.
#include <signal.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include "ckpt/client.h"
#include "mlp_model.h"

namespace po = boost::program_options;

namespace {

struct Flags {
  std::string store;
  std::string job;
  uint64_t steps = 0;
  uint64_t ckpt_every = 0;
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
};

// Parses the command line; exits 0 for --help and 2 for bad input.
Flags ParseFlags(int argc, char** argv) {
  Flags f;
  uint64_t fail_at = 0;
  po::options_description desc(
      "example-train: an MLP trained with Adam, checkpointed with ckpt\n\nOptions");
  desc.add_options()
      ("help,h", "show this help")
      ("store", po::value(&f.store)->required(), "store directory (created if missing)")
      ("job", po::value(&f.job)->default_value("example"), "job name")
      ("steps", po::value(&f.steps)->default_value(300), "optimizer steps to train in total")
      ("ckpt-every", po::value(&f.ckpt_every)->default_value(50), "checkpoint every K steps (0 = never)")
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
      ("compression", po::value(&f.compression)->default_value("zstd"), "zstd or off")
      ("batch", po::value(&f.batch)->default_value(4), "samples per step")
      ("log-every", po::value(&f.log_every)->default_value(50), "print the loss every N steps");
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
  if (f.compression != "zstd" && f.compression != "off") {
    std::cerr << "example-train: --compression must be zstd or off, not '" << f.compression << "'\n";
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

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  example::MlpModel model(flags.model_mb << 20, flags.frozen_mb << 20, flags.batch, /*seed=*/42);

  // ckpt: open a client and protect the training state.
  ckpt::Options options;
  options.store_dir = flags.store;
  options.job = flags.job;
  options.chunk_bytes = flags.chunk_kb << 10;
  options.staging_bytes = flags.staging_mb << 20;
  options.compression = flags.compression == "off" ? ckpt::Compression::kOff : ckpt::Compression::kZstd;
  options.checkpoint_every_steps = flags.ckpt_every;
  auto opened = ckpt::Client::Open(options);
  if (!opened.ok()) return Fail("cannot open the store", opened.status());
  std::unique_ptr<ckpt::Client> client = std::move(opened).value();
  const auto f32 = ckpt::ElementType::kFloat32;
  for (auto [name, vec] : {std::pair<const char*, std::vector<float>*>{"weights", &model.params()},
                           {"adam.exp_avg", &model.exp_avg()},
                           {"adam.exp_avg_sq", &model.exp_avg_sq()},
                           {"frozen.embedding", &model.frozen()}}) {
    if (vec->empty()) continue;
    ckpt::Status s = client->protect(name, vec->data(), vec->size() * sizeof(float), f32);
    if (!s.ok()) return Fail("protect", s);
  }
  std::printf("example-train: job %s, %zu parameters (hidden %zu), %.1f MiB trainable + %.1f MiB frozen\n",
              flags.job.c_str(), model.param_count(), model.hidden(),
              3.0 * model.param_count() * sizeof(float) / 1048576.0,
              model.frozen().size() * sizeof(float) / 1048576.0);

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
  float loss = 0;
  while (step < flags.steps) {
    ++step;
    loss = model.ComputeGradients(step);  // reads the state: may overlap a snapshot
    if (in_flight) {
      // ckpt: the guard. The update below must not run before the snapshot is copied.
      ckpt::Status s = in_flight->wait_copied();
      if (!s.ok()) std::fprintf(stderr, "example-train: checkpoint step %llu failed: %s\n",
                                static_cast<unsigned long long>(in_flight->step()), s.ToString().c_str());
      report_once();
    }
    model.ApplyAdam(step);
    if (flags.log_every > 0 && step % flags.log_every == 0)
      std::printf("step %llu loss %.6f (%.1f s)\n", static_cast<unsigned long long>(step), loss, Seconds(t0));

    if (client->should_checkpoint(step)) {  // ckpt: ask the policy
      if (in_flight) (void)in_flight->wait_durable();  // at most one checkpoint in flight
      report_once();
      auto ticket = client->checkpoint(step);  // ckpt: returns at once
      if (!ticket.ok()) return Fail("checkpoint", ticket.status());
      in_flight = *ticket;
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

  ckpt::Status flushed = client->flush();  // ckpt: everything durable before exit
  report_once();
  if (!flushed.ok())
    std::fprintf(stderr, "example-train: WARNING: a checkpoint failed: %s\n", flushed.ToString().c_str());
  std::printf("done: %llu steps, final loss %.6f, %llu checkpoints requested, %.1f s\n",
              static_cast<unsigned long long>(step), loss, static_cast<unsigned long long>(checkpoints),
              Seconds(t0));

  if (!flags.dump_final.empty()) {
    std::ofstream out(flags.dump_final, std::ios::binary | std::ios::trunc);
    for (auto* vec : {&model.params(), &model.exp_avg(), &model.exp_avg_sq(), &model.frozen()})
      out.write(reinterpret_cast<const char*>(vec->data()),
                static_cast<std::streamsize>(vec->size() * sizeof(float)));
    out.close();
    if (!out) {
      std::cerr << "example-train: cannot write " << flags.dump_final << "\n";
      return 1;
    }
    std::printf("final state written to %s\n", flags.dump_final.c_str());
  }
  return 0;
}
