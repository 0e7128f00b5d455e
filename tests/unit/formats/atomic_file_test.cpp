// Atomic, durable files: formats/atomic_file.hpp.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "formats/atomic_file.hpp"
#include "tests/unit/formats/test_support.hpp"

namespace hsm::formats {
namespace {

using test::read_bytes;
using test::TempDir;

Bytes bytes_of(const std::string& s) { return Bytes(s.begin(), s.end()); }

TEST(AtomicFile, WritesAndCommitsWithMode0600) {
  TempDir dir;
  ASSERT_TRUE(write_file_atomic(dir / "a.txt", bytes_of("hello")).ok());
  EXPECT_EQ(read_bytes(dir / "a.txt"), bytes_of("hello"));
  struct stat st {};
  ASSERT_EQ(::stat((dir / "a.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(dir.names(), std::vector<std::string>{"a.txt"});
}

TEST(AtomicFile, HonoursRequestedMode) {
  TempDir dir;
  ASSERT_TRUE(write_file_atomic(dir / "b", bytes_of("x"), {false, 0644}).ok());
  struct stat st {};
  ASSERT_EQ(::stat((dir / "b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST(AtomicFile, ExistingFileIsNotOverwrittenWithoutTheFlag) {
  TempDir dir;
  test::write_bytes(dir / "a", bytes_of("old"));
  Status s = write_file_atomic(dir / "a", bytes_of("new"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::usage);
  EXPECT_NE(s.error().message.find("already exists"), std::string::npos) << s.error().message;
  EXPECT_EQ(read_bytes(dir / "a"), bytes_of("old"));
  EXPECT_EQ(dir.names(), std::vector<std::string>{"a"});  // no temporary file left

  ASSERT_TRUE(write_file_atomic(dir / "a", bytes_of("new"), {true, 0600}).ok());
  EXPECT_EQ(read_bytes(dir / "a"), bytes_of("new"));
}

TEST(AtomicFile, DestinationAppearingDuringTheWriteIsNotOverwritten) {
  TempDir dir;
  auto f = AtomicFile::create(dir / "a");
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->write("new", 3).ok());
  test::write_bytes(dir / "a", bytes_of("someone else's"));
  Status s = (*f)->commit();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::usage);
  EXPECT_EQ(read_bytes(dir / "a"), bytes_of("someone else's"));
  EXPECT_EQ(dir.names(), std::vector<std::string>{"a"});
}

TEST(AtomicFile, TempFileRemovedWhenDestroyedWithoutCommit) {
  TempDir dir;
  {
    auto f = AtomicFile::create(dir / "a");
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->write("partial", 7).ok());
    // Unnamed (O_TMPFILE) on Linux file systems that allow it; else named.
    if ((*f)->unnamed()) {
      EXPECT_TRUE(dir.names().empty());
    } else {
      EXPECT_TRUE(std::filesystem::exists((*f)->temp_path()));
      EXPECT_EQ(dir.names().size(), 1u);
    }
  }
  EXPECT_TRUE(dir.names().empty());
}

TEST(AtomicFile, TempFileRemovedOnWriteFailure) {
  TempDir dir;
  auto f = AtomicFile::create(dir / "a");
  ASSERT_TRUE(f.ok());
  // Provoke a write error: the descriptor is closed under the file's feet.
  ::close((*f)->fd());
  Status s = (*f)->write("data", 4);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::other);
  EXPECT_TRUE(dir.names().empty());
  EXPECT_FALSE((*f)->commit().ok());
  EXPECT_FALSE(std::filesystem::exists(dir / "a"));
}

TEST(AtomicFile, FullDiskIsAClearErrorAndLeavesNothing) {
  if (!std::filesystem::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  TempDir dir;
  auto f = AtomicFile::create(dir / "a");
  ASSERT_TRUE(f.ok());
  // /dev/full answers every write with ENOSPC: put it where the file was.
  int full = ::open("/dev/full", O_WRONLY);
  ASSERT_GE(full, 0);
  ASSERT_GE(::dup2(full, (*f)->fd()), 0);
  ::close(full);
  Status s = (*f)->write("data", 4);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::other);
  EXPECT_NE(s.error().message.find("no space left on device"), std::string::npos) << s.error().message;
  EXPECT_TRUE(dir.names().empty());
}

TEST(AtomicFile, MissingFolderIsAUsageError) {
  TempDir dir;
  Status s = write_file_atomic(dir / "nope" / "a", bytes_of("x"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::usage);
}

TEST(AtomicFile, FolderAsDestinationIsAUsageError) {
  TempDir dir;
  std::filesystem::create_directory(dir / "sub");
  Status s = write_file_atomic(dir / "sub", bytes_of("x"), {true, 0600});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::usage);
}

TEST(AtomicFile, SignalCleanupRemovesLiveTempFiles) {
  TempDir dir;
  auto f = AtomicFile::create(dir / "a");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(dir.names().size(), (*f)->unnamed() ? 0u : 1u);
  remove_temp_files_on_signal();
  EXPECT_TRUE(dir.names().empty());
}

TEST(AtomicFile, KilledWriterNeverLeavesTheDestination) {
  TempDir dir;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto f = AtomicFile::create(dir / "a");
    if (!f.ok()) ::_exit(2);
    (void)(*f)->write("half of it", 10);
    ::_exit(0);  // killed before commit: no destructor runs
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_FALSE(std::filesystem::exists(dir / "a"));
  // Where the file system gives unnamed files (tmpfs, ext4, xfs: the test
  // machines), a killed writer leaves nothing at all; elsewhere its named
  // temporary file, which prune removes once it is a day old.
  auto probe = AtomicFile::create(dir / "probe");
  ASSERT_TRUE(probe.ok());
  const bool unnamed = (*probe)->unnamed();
  (*probe)->abort();
  auto names = dir.names();
  if (unnamed) {
    EXPECT_TRUE(names.empty()) << names.size();
  } else {
    ASSERT_EQ(names.size(), 1u);
    EXPECT_EQ(names[0].rfind(".a.tmp-", 0), 0u) << names[0];
  }
}

TEST(AtomicFile, UnnamedFileReplacesAnExistingOneWithOverwrite) {
  TempDir dir;
  test::write_bytes(dir / "a", bytes_of("old"));
  ASSERT_TRUE(write_file_atomic(dir / "a", bytes_of("new contents"), {true, 0600}).ok());
  EXPECT_EQ(read_bytes(dir / "a"), bytes_of("new contents"));
  EXPECT_EQ(dir.names(), std::vector<std::string>{"a"});
  EXPECT_EQ(std::filesystem::status(dir / "a").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  // Without overwrite, an existing name is refused and kept.
  EXPECT_FALSE(write_file_atomic(dir / "a", bytes_of("again")).ok());
  EXPECT_EQ(read_bytes(dir / "a"), bytes_of("new contents"));
}

}  // namespace
}  // namespace hsm::formats
