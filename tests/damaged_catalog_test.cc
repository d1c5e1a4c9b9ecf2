// A damaged or foreign catalog (RocksDB directory) gives a clear error when
// the store is opened, never a crash, and is never silently replaced.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "ckpt/client.h"
#include "ckpt/store.h"
#include "test_util.h"

namespace ckpt {
namespace {

// A store with one committed checkpoint.
std::string MakeStore(const testing::ScratchDir& dir) {
  Options o;
  o.store_dir = (std::filesystem::path(dir.path()) / "store").string();
  o.job = "damaged-catalog";
  o.chunk_bytes = 64 << 10;
  o.staging_bytes = 256 << 10;
  std::vector<uint8_t> data = testing::RandomBytes(200 << 10, 3);
  auto c = Client::Open(o);
  EXPECT_TRUE(c.ok());
  EXPECT_TRUE((*c)->protect("r", data.data(), data.size(), ElementType::kBytes).ok());
  EXPECT_TRUE((*c)->checkpoint(1)->wait_durable().ok());
  return o.store_dir;
}

std::string CatalogPath(const std::string& store, const char* name = nullptr) {
  std::filesystem::path p = std::filesystem::path(store) / "catalog";
  if (name != nullptr) p /= name;
  return p.string();
}

void Overwrite(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

TEST(DamagedCatalog, GarbageCurrentFileIsAClearErrorForReadersAndWriters) {
  testing::ScratchDir dir;
  const std::string store = MakeStore(dir);
  Overwrite(CatalogPath(store, "CURRENT"), "this is not a manifest name\n");
  for (bool read_only : {true, false}) {
    StoreOptions so;
    so.read_only = read_only;
    so.create_if_missing = false;
    auto opened = Store::Open(store, so);
    ASSERT_FALSE(opened.ok());
    EXPECT_NE(opened.status().message().find("catalog"), std::string::npos) << opened.status().ToString();
  }
  // The damaged catalog was not replaced by an empty one.
  std::ifstream current(CatalogPath(store, "CURRENT"));
  std::string line;
  std::getline(current, line);
  EXPECT_EQ(line, "this is not a manifest name");
}

TEST(DamagedCatalog, TruncatedManifestFileIsAnError) {
  testing::ScratchDir dir;
  const std::string store = MakeStore(dir);
  for (const auto& e : std::filesystem::directory_iterator(CatalogPath(store)))
    if (e.path().filename().string().rfind("MANIFEST-", 0) == 0) std::filesystem::resize_file(e.path(), 10);
  StoreOptions so;
  so.create_if_missing = false;
  auto opened = Store::Open(store, so);
  EXPECT_FALSE(opened.ok());
}

TEST(DamagedCatalog, CatalogDirectoryHoldingAFileIsAnError) {
  testing::ScratchDir dir;
  const std::string store = MakeStore(dir);
  std::filesystem::remove_all(CatalogPath(store));
  Overwrite(CatalogPath(store), "not a directory");
  StoreOptions so;
  so.create_if_missing = false;
  auto opened = Store::Open(store, so);
  ASSERT_FALSE(opened.ok());
  EXPECT_TRUE(opened.status().IsCorruption()) << opened.status().ToString();
}

}  // namespace
}  // namespace ckpt
