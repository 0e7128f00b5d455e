// Partition locks (tool/lock.hpp): unambiguous file names (issue 10 §6: "a.b/c"
// and "a/b.c" shared one), re-entrant within a process, exclusive between
// processes.
#include "tool/lock.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <set>

namespace hsm::tool {
namespace {

namespace fs = std::filesystem;

TEST(Lock, FileNamesNeverCollide) {
  EXPECT_NE(lock_file_name("a.b", "c"), lock_file_name("a", "b.c"));
  EXPECT_EQ(lock_file_name("hsm-6", "src"), "hsm-6.src.lock");
  EXPECT_EQ(lock_file_name("a.b", "c"), "a%2Eb.c.lock");
  EXPECT_EQ(lock_file_name("a", "b.c"), "a.b%2Ec.lock");
  std::set<std::string> names;
  for (const char* d : {"a", "a.", ".a", "a%2E", "a.b"})
    for (const char* p : {"b", ".b", "b.", "%2Eb", "b.c", "x/y"}) names.insert(lock_file_name(d, p));
  EXPECT_EQ(names.size(), 30u);
  for (const auto& n : names) EXPECT_EQ(n.find('/'), std::string::npos) << n;
}

TEST(Lock, ReentrantInOneProcessExclusiveBetweenProcesses) {
  const fs::path home = fs::temp_directory_path() / ("hsm-lock-test-" + std::to_string(::getpid()));
  fs::remove_all(home);
  fs::create_directories(home);
  {
    auto outer = PartitionLock::acquire(home, "d", "p", "test", 0);
    ASSERT_TRUE(outer.ok()) << outer.error().message;
    auto inner = PartitionLock::acquire(home, "d", "p", "nested", 0);  // the Backup HSM route, then its clone
    ASSERT_TRUE(inner.ok()) << inner.error().message;
    EXPECT_EQ(fs::status(home / "locks").permissions() & fs::perms::all, fs::perms::owner_all);
    pid_t pid = ::fork();
    if (pid == 0) {
      auto other = PartitionLock::acquire(home, "d", "p", "other", 0);
      ::_exit(!other.ok() && other.error().kind == api::ErrorKind::busy ? 0 : 1);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "another process is refused while held";
  }
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(PartitionLock::acquire(home, "d", "p", "other", 0).ok() ? 0 : 1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "released when the last holder lets go";
  fs::remove_all(home);
}

}  // namespace
}  // namespace hsm::tool
