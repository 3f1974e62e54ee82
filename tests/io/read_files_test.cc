// `lsio read`'s library function: --checksum must print what `xxhsum -H64` prints.

#include "lsio/io/read_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace lsio::io {
namespace {

namespace fs = std::filesystem;

std::string RunCommand(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

class ReadFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lsio-read-files-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::mt19937_64 rng(1);
    const size_t sizes[] = {0, 1, 4096, 100001, (size_t{3} << 20) + 17};
    for (size_t s : sizes) {
      std::string path = dir_ + "/f" + std::to_string(s);
      std::string bytes(s, '\0');
      for (char& c : bytes) c = static_cast<char>(rng());
      FILE* f = std::fopen(path.c_str(), "wb");
      ASSERT_NE(f, nullptr);
      std::fwrite(bytes.data(), 1, bytes.size(), f);
      std::fclose(f);
      files_.push_back(path);
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The reference: xxhsum's "<hash>  <path>" lines for our files.
  std::string Xxhsum() {
    std::string cmd = "xxhsum -H64";
    for (const auto& f : files_) cmd += " '" + f + "'";
    return RunCommand(cmd + " 2>/dev/null");
  }

  std::string dir_;
  std::vector<std::string> files_;
};

// The lines of `text` that look like checksums ("<16 hex>  <path>").
std::string ChecksumLines(const std::string& text) {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) {
    if (line.size() > 18 && line.substr(16, 2) == "  " &&
        line.find_first_not_of("0123456789abcdef") == 16) {
      out += line + "\n";
    }
  }
  return out;
}

TEST_F(ReadFilesTest, ChecksumEqualsXxhsum) {
  const std::string want = Xxhsum();
  ASSERT_EQ(RunCommand("command -v xxhsum").empty(), false)
      << "xxhsum (Debian package xxhash) missing";
  ASSERT_FALSE(want.empty());
  const char* blocks[] = {"", "4k", "64k", "1M"};
  const char* backends[] = {"uring", "posix"};
  for (const char* backend : backends) {
    for (const char* block : blocks) {
      for (bool buffered : {false, true}) {
        ReadFilesOptions o;
        o.paths = files_;
        o.checksum = true;
        o.engine.backend = *ParseBackend(backend);
        o.engine.direct = !buffered;
        if (*block) o.block_size = *ParseByteSize(block);
        std::ostringstream out;
        Status s = ReadFiles(o, out);
        ASSERT_TRUE(s.ok()) << s.ToString();
        EXPECT_EQ(ChecksumLines(out.str()), want)
            << backend << " block " << block << " buffered " << buffered;
      }
    }
  }
}

TEST_F(ReadFilesTest, DirectoryIsWalkedAndJsonSummarises) {
  ReadFilesOptions o;
  o.paths = {dir_};
  o.json = true;
  o.block_size = 64 << 10;
  std::ostringstream out;
  ASSERT_TRUE(ReadFiles(o, out).ok());
  const std::string s = out.str();
  uint64_t total = 0;
  for (const auto& f : files_) total += fs::file_size(f);
  EXPECT_NE(s.find("\"files\":5"), std::string::npos) << s;
  EXPECT_NE(s.find("\"bytes\":" + std::to_string(total)), std::string::npos) << s;
}

TEST_F(ReadFilesTest, RangeAndMissingFile) {
  ReadFilesOptions o;
  o.paths = {files_[3], dir_ + "/nope"};
  o.has_range = true;
  ASSERT_TRUE(ParseRange("-1k:", &o.range_offset, &o.range_length).ok());
  std::ostringstream out;
  Status s = ReadFiles(o, out);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find(dir_ + "/nope"), std::string::npos) << s.ToString();
  EXPECT_NE(out.str().find("bytes 1024 "), std::string::npos) << out.str();
}

TEST_F(ReadFilesTest, RandomReads) {
  ReadFilesOptions o;
  o.paths = {files_[4]};
  o.random_reads = 1000;
  o.json = true;
  std::ostringstream out;
  ASSERT_TRUE(ReadFiles(o, out).ok());
  EXPECT_NE(out.str().find("\"reads\":1000"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("\"bytes\":4096000"), std::string::npos) << out.str();
  o.checksum = true;
  EXPECT_EQ(ReadFiles(o, out).code(), StatusCode::kInvalidArgument);
}

TEST(ParseSizeTest, Table) {
  struct Case {
    const char* text;
    uint64_t want;
  };
  const Case ok[] = {{"0", 0},       {"4096", 4096},  {"4k", 4096},      {"4K", 4096},
                     {"4KiB", 4096}, {"1M", 1 << 20}, {"1MiB", 1 << 20}, {"2g", uint64_t{2} << 30},
                     {"64kb", 65536}};
  for (const Case& c : ok) {
    Result<uint64_t> r = ParseByteSize(c.text);
    ASSERT_TRUE(r.ok()) << c.text;
    EXPECT_EQ(*r, c.want) << c.text;
  }
  for (const char* bad : {"", "k", "4x", "-1", "99999999999999999999", "20000000000000T"}) {
    EXPECT_EQ(ParseByteSize(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  int64_t off = 0, len = 0;
  ASSERT_TRUE(ParseRange("4k:1M", &off, &len).ok());
  EXPECT_EQ(off, 4096);
  EXPECT_EQ(len, 1 << 20);
  ASSERT_TRUE(ParseRange("-16:", &off, &len).ok());
  EXPECT_EQ(off, -16);
  EXPECT_EQ(len, ReadRequest::kToEnd);
  EXPECT_FALSE(ParseRange("16", &off, &len).ok());
}

}  // namespace
}  // namespace lsio::io
