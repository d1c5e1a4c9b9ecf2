// A segment write whose io_uring submit fails is reported as failed and is
// never issued later: the kernel did not take the request, but it stayed in
// the submission queue, and the next submit on the ring used to send it,
// from memory its owner had already taken back.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "ckpt/env.h"
#include "segment_test_util.h"
#include "submit_failure.h"
#include "test_util.h"

namespace ckpt {
namespace {

using testing::ReadWholeFile;
using testing::ScratchDir;

TEST(UringSubmitFailure, AWriteWhoseSubmitFailedIsNeverIssued) {
  ScratchDir dir;
  const std::string path = dir.Sub("a.seg");
  auto file = Env::Default()->NewSegmentFile(path, /*try_direct_io=*/false, 4);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const std::vector<uint8_t> lost(4096, 0xAA), kept(4096, 0xBB);

  // The file is used by one thread at a time: this one submits A and fails.
  Status submitted;
  std::string why;
  std::thread failing([&] {
    why = testing::FailIoUringSubmitsOnThisThread();
    if (!why.empty()) return;
    const WritableSegmentFile::Slice a{lost.data(), lost.size()};
    submitted = (*file)->SubmitWrite({&a, 1}, 0, /*tag=*/1);
  });
  failing.join();
  if (!why.empty()) GTEST_SKIP() << "cannot make io_uring submits fail here: " << why;
  ASSERT_FALSE(submitted.ok()) << "the submit was meant to fail";

  const WritableSegmentFile::Slice b{kept.data(), kept.size()};
  ASSERT_TRUE((*file)->SubmitWrite({&b, 1}, 4096, /*tag=*/2).ok());
  auto c = (*file)->WaitCompletion();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->tag, 2u) << "only the write that was accepted completes";
  EXPECT_EQ(c->result, 4096);
  auto more = (*file)->PollCompletion();
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(more->has_value()) << "a completion for the failed write, tag " << (*more)->tag;
  ASSERT_TRUE((*file)->DataSync().ok());
  ASSERT_TRUE((*file)->Close().ok());

  const auto bytes = ReadWholeFile(path);
  ASSERT_EQ(bytes.size(), 8192u);
  EXPECT_EQ(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 4096), std::vector<uint8_t>(4096, 0))
      << "the failed write reached the file";
  EXPECT_EQ(std::vector<uint8_t>(bytes.begin() + 4096, bytes.end()), kept);
}

}  // namespace
}  // namespace ckpt
